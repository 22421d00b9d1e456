"""POST /v2/shares/{share_id}/action.

Each action authorizes first (a caller without the role gets 403 whatever the version),
then checks its microversion window (404 outside it, as Manila's VersionNotFoundForAPIMethod),
then validates its body.
"""
from __future__ import annotations

from sharebackup.api.actions import action_dispatcher
from sharebackup.faults import Fault
from sharebackup.api.schemas import shares as schema
from sharebackup.policies import shares as policy
from sharebackup.services import share_actions as actions, share_manage, shares as service


def _start(req, rule: str, minimum: str, maximum: str | None = None):
    rt, ctx = req.context.runtime, req.context.auth
    rt.policy.authorize(ctx, rule)
    if not req.context.version.matches(minimum, maximum):
        raise Fault(404)
    return rt, ctx


def _accepted(resp):
    resp.status = 202
    resp.text = None


def _reset_status(minimum, maximum):
    def action(req, resp, value, share_id, **params):
        rt, ctx = _start(req, policy.RESET_STATUS, minimum, maximum)
        actions.reset_status(rt, ctx, share_id, schema.reset_status(value))
        _accepted(resp)
    return action


def _reset_task_state(req, resp, value, share_id, **params):
    # Manila marks it experimental; the CLI's `share set` sends it after every update, so the
    # experimental header is not demanded here.
    rt, ctx = _start(req, policy.RESET_TASK_STATE, "2.22")
    actions.reset_task_state(rt, ctx, share_id, schema.reset_task_state(value))
    _accepted(resp)


def _force_delete(minimum, maximum):
    def action(req, resp, value, share_id, **params):
        rt, ctx = _start(req, policy.FORCE_DELETE, minimum, maximum)
        service.delete(rt, ctx, share_id, force=True)
        _accepted(resp)
    return action


def _extend(minimum, maximum):
    def action(req, resp, value, share_id, **params):
        rt, ctx = _start(req, policy.EXTEND, minimum, maximum)
        new_size = schema.new_size(value, "extend")
        force = schema.force_flag(value) if req.context.version.matches("2.64") else False
        actions.extend(rt, ctx, share_id, new_size, force)
        _accepted(resp)
    return action


def _shrink(minimum, maximum):
    def action(req, resp, value, share_id, **params):
        rt, ctx = _start(req, policy.SHRINK, minimum, maximum)
        actions.shrink(rt, ctx, share_id, schema.new_size(value, "shrink"))
        _accepted(resp)
    return action


def _revert(req, resp, value, share_id, **params):
    rt, ctx = _start(req, policy.REVERT_TO_SNAPSHOT, "2.27")
    actions.revert_to_snapshot(rt, ctx, share_id, schema.revert(value))
    _accepted(resp)


def _unmanage(req, resp, value, share_id, **params):
    rt, ctx = _start(req, policy.UNMANAGE, "2.7")
    share_manage.unmanage(rt, ctx, share_id)
    _accepted(resp)


def _soft_delete(req, resp, value, share_id, **params):
    rt, ctx = _start(req, policy.SOFT_DELETE, "2.69")
    service.soft_delete(rt, ctx, share_id)
    _accepted(resp)


def _restore(req, resp, value, share_id, **params):
    rt, ctx = _start(req, policy.RESTORE, "2.69")
    if service.restore(rt, ctx, share_id):
        _accepted(resp)
    else:  # not in the recycle bin: Manila answers 200
        resp.status = 200
        resp.text = None


# The dispatcher's own window is left open: each action checks its version after policy.
share_action = action_dispatcher({
    "os-reset_status": ("2.0", None, _reset_status("2.0", "2.6")),
    "reset_status": ("2.0", None, _reset_status("2.7", None)),
    "reset_task_state": ("2.0", None, _reset_task_state),
    "os-force_delete": ("2.0", None, _force_delete("2.0", "2.6")),
    "force_delete": ("2.0", None, _force_delete("2.7", None)),
    "os-extend": ("2.0", None, _extend("2.0", "2.6")),
    "extend": ("2.0", None, _extend("2.7", None)),
    "os-shrink": ("2.0", None, _shrink("2.0", "2.6")),
    "shrink": ("2.0", None, _shrink("2.7", None)),
    "unmanage": ("2.0", None, _unmanage),
    "revert": ("2.0", None, _revert),
    "soft_delete": ("2.0", None, _soft_delete),
    "restore": ("2.0", None, _restore),
})
