"""GET /v2/availability-zones: the one configured zone."""
from __future__ import annotations

from sharebackup.api.views import availability_zones as view
from sharebackup.policies import availability_zones as policy


def list_availability_zones(req, resp):
    rt = req.context.runtime
    resp.media = view.index(rt.config.storage_availability_zone)
