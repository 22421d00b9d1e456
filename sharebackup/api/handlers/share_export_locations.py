"""GET /v2/shares/{share_id}/export_locations[/{export_location_id}] (MV >= 2.9)."""
from __future__ import annotations

from sharebackup.faults import Fault
from sharebackup.api.views import export_locations as view
from sharebackup.policies import share_export_locations as policy
from sharebackup.services import share_export_locations as service


def list_export_locations(req, resp, share_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    locations = service.export_locations(rt, ctx, share_id, policy.INDEX)
    resp.media = view.index(req, locations)


def show_export_location(req, resp, share_id, export_location_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    location = service.export_location(rt, ctx, share_id, export_location_id, policy.SHOW)
    resp.media = view.show(req, location)
