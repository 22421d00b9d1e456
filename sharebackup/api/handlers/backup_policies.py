"""/sharebackup/v1/backup-policies: create (201), list, detail list, show, partial update, delete
(204), attach and detach shares, and the run history."""
from __future__ import annotations

from sharebackup.api.schemas import backup_policies as schema
from sharebackup.api.views import backup_policies as view
from sharebackup.services import backup_policies as service


def _list(req, resp, detailed: bool):
    rt, ctx = req.context.runtime, req.context.auth
    marker, limit, all_tenants = schema.page(req, rt.config.osapi_max_limit)
    policies, more = service.list_policies(rt, ctx, marker, limit, all_tenants)
    resp.media = view.index(req, policies, more, detailed)


def list_backup_policies(req, resp, **params):
    _list(req, resp, detailed=False)


def list_backup_policies_detail(req, resp, **params):
    _list(req, resp, detailed=True)


def create_backup_policy(req, resp, **params):
    rt, ctx = req.context.runtime, req.context.auth
    values = schema.create(schema.wrapped(req, "backup_policy"))
    resp.media = view.show(service.create(rt, ctx, values))
    resp.status = 201


def show_backup_policy(req, resp, policy_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    resp.media = view.show(service.get(rt, ctx, policy_id))


def update_backup_policy(req, resp, policy_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    changes = schema.update(schema.wrapped(req, "backup_policy"))
    resp.media = view.show(service.update(rt, ctx, policy_id, changes))


def delete_backup_policy(req, resp, policy_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    service.delete(rt, ctx, policy_id)
    resp.status = 204


def attach_share(req, resp, policy_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    resp.media = view.show(service.attach(rt, ctx, policy_id, schema.share_id(req)))


def detach_share(req, resp, policy_id, share_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    service.detach(rt, ctx, policy_id, share_id)
    resp.status = 204


def list_runs(req, resp, policy_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    marker, limit, _ = schema.page(req, rt.config.osapi_max_limit)
    rows, more = service.list_runs(rt, ctx, policy_id, marker, limit)
    resp.media = view.runs(req, policy_id, rows, more)
