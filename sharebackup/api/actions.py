"""Dispatch of ``POST .../action`` bodies to handlers, as data: {action name: (min, max, handler)}."""
from __future__ import annotations

from sharebackup.api.body import action_body
from sharebackup.faults import Fault


def action_dispatcher(table: dict[str, tuple[str, str | None, object]]):
    """Build a handler that picks the action's function by body key and microversion."""

    def dispatch(req, resp, **params):
        name, value = action_body(req)
        entry = table.get(name)
        if entry is None:
            raise Fault(400, f"There is no such action: {name}")
        minimum, maximum, func = entry
        if not req.context.version.matches(minimum, maximum):
            raise Fault(404)  # Manila: VersionNotFoundForAPIMethod
        return func(req, resp, value, **params)

    dispatch.actions = table
    return dispatch
