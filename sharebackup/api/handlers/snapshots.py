"""/v2/snapshots: list, detail, create, show, update, delete and the admin actions."""
from __future__ import annotations

from sharebackup.api.actions import action_dispatcher
from sharebackup.api.body import action_body, resource_body
from sharebackup.faults import Fault
from sharebackup.api.microversion import version_handler
from sharebackup.api.schemas import snapshots as schema
from sharebackup.api.views import snapshots as view
from sharebackup.policies import share_snapshots as policy
from sharebackup.services import snapshots as service


def _list(req, resp, is_detail: bool):
    rt, ctx = req.context.runtime, req.context.auth
    rt.policy.authorize(ctx, policy.GET_ALL)
    query = schema.list_query(dict(req.params), req.context.version, ctx.is_admin, rt.config.osapi_max_limit)
    snapshots, total = service.list_snapshots(rt, ctx, query)
    resp.media = view.index(req, snapshots, query["limit"], total, is_detail)


def list_snapshots(req, resp, **params):
    _list(req, resp, is_detail=False)


def list_snapshots_detail(req, resp, **params):
    _list(req, resp, is_detail=True)


def create_snapshot(req, resp, **params):
    rt, ctx = req.context.runtime, req.context.auth
    rt.policy.authorize(ctx, policy.CREATE)
    request = schema.create_request(resource_body(req, "snapshot"), req.context.version)
    resp.media = view.show(req, service.create(rt, ctx, request))
    resp.status = 202


def show_snapshot(req, resp, snapshot_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    rt.policy.authorize(ctx, policy.GET)
    resp.media = view.show(req, service.get(rt, ctx, snapshot_id))


def update_snapshot(req, resp, snapshot_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    rt.policy.authorize(ctx, policy.UPDATE)
    fields = schema.update_request(resource_body(req, "snapshot"))
    resp.media = view.show(req, service.update(rt, ctx, snapshot_id, fields))


def delete_snapshot(req, resp, snapshot_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    rt.policy.authorize(ctx, policy.DELETE)
    service.delete(rt, ctx, snapshot_id)
    resp.status = 202


@version_handler("2.32")
def list_snapshot_export_locations(req, resp, snapshot_id, **params):
    """Snapshots of the local driver are not mountable: the list is always empty (the
    ``openstack share snapshot show`` command asks for it from 2.32)."""
    rt, ctx = req.context.runtime, req.context.auth
    rt.policy.authorize(ctx, policy.EXPORT_LOCATION_INDEX)
    service.get(rt, ctx, snapshot_id)
    resp.media = {"share_snapshot_export_locations": []}


@version_handler("2.32")
def show_snapshot_export_location(req, resp, snapshot_id, export_location_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    rt.policy.authorize(ctx, policy.EXPORT_LOCATION_SHOW)
    service.get(rt, ctx, snapshot_id)
    raise Fault(404, f"Export location {export_location_id} not found.")


def _reset_status(req, resp, value, snapshot_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    rt.policy.authorize(ctx, policy.RESET_STATUS)
    service.reset_status(rt, ctx, snapshot_id, schema.reset_status_request(value))
    resp.status = 202


def _force_delete(req, resp, value, snapshot_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    rt.policy.authorize(ctx, policy.FORCE_DELETE)
    service.delete(rt, ctx, snapshot_id, force=True)
    resp.status = 202


_ACTIONS = {
    "os-reset_status": ("2.0", "2.6", _reset_status),
    "reset_status": ("2.7", None, _reset_status),
    "os-force_delete": ("2.0", "2.6", _force_delete),
    "force_delete": ("2.7", None, _force_delete),
}
_RULES = {"os-reset_status": policy.RESET_STATUS, "reset_status": policy.RESET_STATUS,
          "os-force_delete": policy.FORCE_DELETE, "force_delete": policy.FORCE_DELETE}
_dispatch = action_dispatcher(_ACTIONS)


def snapshot_action(req, resp, **params):
    # Policy before the version window: a caller without the role learns nothing about
    # which action names exist at which version.
    name, _ = action_body(req)
    if name in _RULES:
        req.context.runtime.policy.authorize(req.context.auth, _RULES[name])
    return _dispatch(req, resp, **params)


snapshot_action.actions = _dispatch.actions
