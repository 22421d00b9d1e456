"""/v2/shares/{share_id}/metadata[/{key}]: Manila's share metadata endpoints."""
from __future__ import annotations

from sharebackup.api.body import require_body
from sharebackup.faults import Fault
from sharebackup.api.schemas import shares as schema
from sharebackup.api.views import shares as view
from sharebackup.policies import shares as policy
from sharebackup.services import share_metadata as service


def list_share_metadata(req, resp, share_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    resp.media = view.metadata(service.get_metadata(rt, ctx, share_id))


def set_share_metadata(req, resp, share_id, **params):
    """PUT: replace all metadata."""
    rt, ctx = req.context.runtime, req.context.auth
    values = schema.metadata_body(require_body(req))
    resp.media = view.metadata(service.write_metadata(rt, ctx, share_id, values, replace=True))


def update_share_metadata(req, resp, share_id, **params):
    """POST: merge into the existing metadata."""
    rt, ctx = req.context.runtime, req.context.auth
    values = schema.metadata_body(require_body(req))
    resp.media = view.metadata(service.write_metadata(rt, ctx, share_id, values, replace=False))


def show_share_metadata_item(req, resp, share_id, key, **params):
    rt, ctx = req.context.runtime, req.context.auth
    values = service.get_metadata(rt, ctx, share_id)
    if key not in values:
        raise Fault(404, "Metadata item was not found")
    resp.media = view.metadata_item(key, values[key])


def update_share_metadata_item(req, resp, share_id, key, **params):
    rt, ctx = req.context.runtime, req.context.auth
    body = require_body(req)
    values = schema.metadata_item_body(body)
    if key not in values:
        raise Fault(400, "Request body and URI mismatch")
    if len(values) > 1:
        raise Fault(400, "Request body contains too many items")
    service.write_metadata(rt, ctx, share_id, values, replace=False)
    resp.media = view.metadata(values)  # Manila answers {"metadata": {key: value}} here


def delete_share_metadata_item(req, resp, share_id, key, **params):
    rt, ctx = req.context.runtime, req.context.auth
    service.delete_metadata_item(rt, ctx, share_id, key)
    resp.status = 200
