"""/v2/share-backups (2.80+): list, detail list, create (202), show, update (200),
delete (202) and the restore / reset_status actions (202).

Below 2.80 every route is Manila's 404. The experimental header is accepted and echoed
(middleware) but not required.
"""
from __future__ import annotations

from sharebackup.api import operations
from sharebackup.api.body import resource_body
from sharebackup.api.operations import Action
from sharebackup.faults import Fault
from sharebackup.api.schemas import share_backups as schema
from sharebackup.api.views import share_backups as view
from sharebackup.policies import share_backups as policy
from sharebackup.services import share_backups as service

MIN_VERSION = "2.80"


def _list(req, resp, detailed: bool):
    rt, ctx = req.context.runtime, req.context.auth
    query = schema.list_query(req, ctx.is_admin, rt.config.osapi_max_limit)
    backups, more = service.list_backups(rt, ctx, query)
    resp.media = view.index(req, backups, detailed, more)


def list_share_backups(req, resp, **params):
    _list(req, resp, detailed=False)


def list_share_backups_detail(req, resp, **params):
    _list(req, resp, detailed=True)


def create_share_backup(req, resp, **params):
    rt, ctx = req.context.runtime, req.context.auth
    request = schema.create(resource_body(req, "share_backup"))
    resp.media = view.show(req, service.create(rt, ctx, request))
    resp.status = 202


def show_share_backup(req, resp, backup_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    resp.media = view.show(req, service.get(rt, ctx, backup_id))


def update_share_backup(req, resp, backup_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    values = schema.update(resource_body(req, "share_backup"))
    resp.media = view.show(req, service.update(rt, ctx, backup_id, values))


def delete_share_backup(req, resp, backup_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    service.delete(rt, ctx, backup_id)
    resp.status = 202


def _accepted(resp):
    resp.status = 202
    resp.text = None


def _restore(req, resp, value, backup_id):
    rt, ctx = req.context.runtime, req.context.auth
    target = schema.restore_target(value, req.context.version)
    backup_id, share_id = service.restore(rt, ctx, backup_id, target)
    resp.media = view.restore(backup_id, share_id)
    resp.status = 202


def _reset_status(req, resp, value, backup_id):
    rt, ctx = req.context.runtime, req.context.auth
    service.reset_status(rt, ctx, backup_id, schema.reset_status(value))
    _accepted(resp)


# Only these two (Manila answers os-reset_status with "There is no such action" too).
share_backup_action = operations.actions({
    "restore": Action(_restore, policy.RESTORE, MIN_VERSION),
    "reset_status": Action(_reset_status, policy.RESET_STATUS, MIN_VERSION),
})
