"""POST /v2/shares/{share_id}/action: each action with its policy and window (operations.py
checks them, in Manila's order), then its body."""
from __future__ import annotations

from sharebackup.api import operations
from sharebackup.api.operations import Action
from sharebackup.faults import Fault
from sharebackup.api.schemas import shares as schema
from sharebackup.policies import shares as policy
from sharebackup.services import share_actions as actions, share_manage, shares as service


def _accepted(resp):
    resp.status = 202
    resp.text = None


def _reset_status(req, resp, value, share_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    actions.reset_status(rt, ctx, share_id, schema.reset_status(value))
    _accepted(resp)


def _reset_task_state(req, resp, value, share_id, **params):
    # Manila marks it experimental; the CLI's `share set` sends it after every update, so the
    # experimental header is not demanded here.
    rt, ctx = req.context.runtime, req.context.auth
    actions.reset_task_state(rt, ctx, share_id, schema.reset_task_state(value))
    _accepted(resp)


def _force_delete(req, resp, value, share_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    service.delete(rt, ctx, share_id, force=True)
    _accepted(resp)


def _extend(req, resp, value, share_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    new_size = schema.new_size(value, "extend")
    force = schema.force_flag(value) if req.context.version.matches("2.64") else False
    actions.extend(rt, ctx, share_id, new_size, force)
    _accepted(resp)


def _shrink(req, resp, value, share_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    actions.shrink(rt, ctx, share_id, schema.new_size(value, "shrink"))
    _accepted(resp)


def _revert(req, resp, value, share_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    actions.revert_to_snapshot(rt, ctx, share_id, schema.revert(value))
    _accepted(resp)


def _unmanage(req, resp, value, share_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    share_manage.unmanage(rt, ctx, share_id)
    _accepted(resp)


def _soft_delete(req, resp, value, share_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    service.soft_delete(rt, ctx, share_id)
    _accepted(resp)


def _restore(req, resp, value, share_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    if service.restore(rt, ctx, share_id):
        _accepted(resp)
    else:  # not in the recycle bin: Manila answers 200
        resp.status = 200
        resp.text = None


share_action = operations.actions({
    "os-reset_status": Action(_reset_status, policy.RESET_STATUS, "2.0", "2.6"),
    "reset_status": Action(_reset_status, policy.RESET_STATUS, "2.7"),
    "reset_task_state": Action(_reset_task_state, policy.RESET_TASK_STATE, "2.22"),
    "os-force_delete": Action(_force_delete, policy.FORCE_DELETE, "2.0", "2.6"),
    "force_delete": Action(_force_delete, policy.FORCE_DELETE, "2.7"),
    "os-extend": Action(_extend, policy.EXTEND, "2.0", "2.6"),
    "extend": Action(_extend, policy.EXTEND, "2.7"),
    "os-shrink": Action(_shrink, policy.SHRINK, "2.0", "2.6"),
    "shrink": Action(_shrink, policy.SHRINK, "2.7"),
    "unmanage": Action(_unmanage, policy.UNMANAGE, "2.7"),
    "revert": Action(_revert, policy.REVERT_TO_SNAPSHOT, "2.27"),
    "soft_delete": Action(_soft_delete, policy.SOFT_DELETE, "2.69"),
    "restore": Action(_restore, policy.RESTORE, "2.69"),
})
