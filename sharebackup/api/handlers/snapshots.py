"""/v2/snapshots: list, detail, create, show, update, delete and the admin actions."""
from __future__ import annotations

from sharebackup.api import operations
from sharebackup.api.operations import Action
from sharebackup.api.body import action_body, resource_body
from sharebackup.faults import Fault
from sharebackup.api.schemas import snapshots as schema
from sharebackup.api.views import snapshots as view
from sharebackup.policies import share_snapshots as policy
from sharebackup.services import snapshots as service


def _list(req, resp, is_detail: bool):
    rt, ctx = req.context.runtime, req.context.auth
    query = schema.list_query(dict(req.params), req.context.version, ctx.is_admin, rt.config.osapi_max_limit)
    snapshots, total = service.list_snapshots(rt, ctx, query)
    resp.media = view.index(req, snapshots, query["limit"], total, is_detail)


def list_snapshots(req, resp, **params):
    _list(req, resp, is_detail=False)


def list_snapshots_detail(req, resp, **params):
    _list(req, resp, is_detail=True)


def create_snapshot(req, resp, **params):
    rt, ctx = req.context.runtime, req.context.auth
    request = schema.create_request(resource_body(req, "snapshot"), req.context.version)
    resp.media = view.show(req, service.create(rt, ctx, request))
    resp.status = 202


def show_snapshot(req, resp, snapshot_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    resp.media = view.show(req, service.get(rt, ctx, snapshot_id))


def update_snapshot(req, resp, snapshot_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    fields = schema.update_request(resource_body(req, "snapshot"))
    resp.media = view.show(req, service.update(rt, ctx, snapshot_id, fields))


def delete_snapshot(req, resp, snapshot_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    service.delete(rt, ctx, snapshot_id)
    resp.status = 202


def list_snapshot_export_locations(req, resp, snapshot_id, **params):
    """Snapshots of the local driver are not mountable: the list is always empty (the
    ``openstack share snapshot show`` command asks for it from 2.32)."""
    rt, ctx = req.context.runtime, req.context.auth
    service.get(rt, ctx, snapshot_id)
    resp.media = {"share_snapshot_export_locations": []}


def show_snapshot_export_location(req, resp, snapshot_id, export_location_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    service.get(rt, ctx, snapshot_id)
    raise Fault(404, f"Export location {export_location_id} not found.")


def _reset_status(req, resp, value, snapshot_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    service.reset_status(rt, ctx, snapshot_id, schema.reset_status_request(value))
    resp.status = 202


def _force_delete(req, resp, value, snapshot_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    service.delete(rt, ctx, snapshot_id, force=True)
    resp.status = 202


snapshot_action = operations.actions({
    "os-reset_status": Action(_reset_status, policy.RESET_STATUS, "2.0", "2.6"),
    "reset_status": Action(_reset_status, policy.RESET_STATUS, "2.7"),
    "os-force_delete": Action(_force_delete, policy.FORCE_DELETE, "2.0", "2.6"),
    "force_delete": Action(_force_delete, policy.FORCE_DELETE, "2.7"),
})
