"""/v2/share-backups (2.80+): list, detail list, create (202), show, update (200),
delete (202) and the restore / reset_status actions (202).

Below 2.80 every route is Manila's 404. The experimental header is accepted and echoed
(middleware) but not required.
"""
from __future__ import annotations

from sharebackup.api.body import action_body, resource_body
from sharebackup.faults import Fault
from sharebackup.api.microversion import version_handler
from sharebackup.api.schemas import share_backups as schema
from sharebackup.api.views import share_backups as view
from sharebackup.policies import share_backups as policy
from sharebackup.services import share_backups as service

MIN_VERSION = "2.80"


def _list(req, resp, detailed: bool):
    rt, ctx = req.context.runtime, req.context.auth
    rt.policy.authorize(ctx, policy.GET_ALL)
    query = schema.list_query(req, ctx.is_admin, rt.config.osapi_max_limit)
    backups, more = service.list_backups(rt, ctx, query)
    resp.media = view.index(req, backups, detailed, more)


@version_handler(MIN_VERSION)
def list_share_backups(req, resp, **params):
    _list(req, resp, detailed=False)


@version_handler(MIN_VERSION)
def list_share_backups_detail(req, resp, **params):
    _list(req, resp, detailed=True)


@version_handler(MIN_VERSION)
def create_share_backup(req, resp, **params):
    rt, ctx = req.context.runtime, req.context.auth
    rt.policy.authorize(ctx, policy.CREATE)
    request = schema.create(resource_body(req, "share_backup"))
    resp.media = view.show(req, service.create(rt, ctx, request))
    resp.status = 202


@version_handler(MIN_VERSION)
def show_share_backup(req, resp, backup_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    rt.policy.authorize(ctx, policy.GET)
    resp.media = view.show(req, service.get(rt, ctx, backup_id))


@version_handler(MIN_VERSION)
def update_share_backup(req, resp, backup_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    rt.policy.authorize(ctx, policy.UPDATE)
    values = schema.update(resource_body(req, "share_backup"))
    resp.media = view.show(req, service.update(rt, ctx, backup_id, values))


@version_handler(MIN_VERSION)
def delete_share_backup(req, resp, backup_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    rt.policy.authorize(ctx, policy.DELETE)
    service.delete(rt, ctx, backup_id)
    resp.status = 202


def _accepted(resp):
    resp.status = 202
    resp.text = None


def _restore(req, resp, value, backup_id):
    rt, ctx = req.context.runtime, req.context.auth
    rt.policy.authorize(ctx, policy.RESTORE)
    target = schema.restore_target(value, req.context.version)
    backup_id, share_id = service.restore(rt, ctx, backup_id, target)
    resp.media = view.restore(backup_id, share_id)
    resp.status = 202


def _reset_status(req, resp, value, backup_id):
    rt, ctx = req.context.runtime, req.context.auth
    rt.policy.authorize(ctx, policy.RESET_STATUS)
    service.reset_status(rt, ctx, backup_id, schema.reset_status(value))
    _accepted(resp)


_ACTIONS = {"restore": _restore, "reset_status": _reset_status}


@version_handler(MIN_VERSION)
def share_backup_action(req, resp, backup_id, **params):
    # Each action authorizes before it reads its value; only these two are registered
    # (Manila answers os-reset_status with "There is no such action" too).
    name, value = action_body(req)
    action = _ACTIONS.get(name)
    if action is None:
        raise Fault(400, f"There is no such action: {name}")
    action(req, resp, value, backup_id)


share_backup_action.actions = {name: (MIN_VERSION, None, func) for name, func in _ACTIONS.items()}
