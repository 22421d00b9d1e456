"""Every operation of the API as data, and the one dispatcher that runs them.

An Operation is a handler with its policy rule and its microversion window; an Action is the
same for one key of a `POST .../action` body. The dispatcher applies, on every route and
every action, Manila's order (its wsgi.Resource and router): the request body's size (its
sizelimit filter runs before routing: 413), the action's name (400 "There is no such
action"), the version window (404, VersionNotFoundForAPIMethod), the policy (403), and only
then the handler. Handlers check only what needs the resource itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable

from sharebackup.api.body import action_body, refuse_oversized
from sharebackup.api.microversion import MAX_VERSION, APIVersion
from sharebackup.faults import Fault

EARLIEST = "2.0"


@dataclass(frozen=True)
class Operation:
    handler: Callable
    policy: str | None  # None: open to anyone (version discovery, health, metrics)
    since: str = EARLIEST
    until: str | None = None

    @cached_property  # parsed once, not on every request
    def window(self) -> tuple[APIVersion, APIVersion]:
        return APIVersion.parse(self.since), APIVersion.parse(self.until) if self.until else MAX_VERSION

    def serves(self, version: APIVersion) -> bool:
        low, high = self.window
        return low <= version <= high


Action = Operation  # for an action, ``handler(req, resp, value, **params)``


def op(handler: Callable, policy: str | None, since: str = EARLIEST, until: str | None = None) -> Operation:
    return Operation(handler, policy, since, until)


def _chosen(operations: list[Operation], req) -> Operation:
    version = req.context.version
    for operation in operations:
        if operation.serves(version):
            return operation
    raise Fault(404)


def _authorized(req, operation: Operation) -> None:
    if operation.policy is not None:
        req.context.runtime.policy.authorize(req.context.auth, operation.policy)


def responder(operations: list[Operation]) -> Callable:
    """The Falcon responder of one method of one path (several windows: several operations)."""
    _check_windows(operations)

    def respond(req, resp, **params):
        refuse_oversized(req)
        operation = _chosen(operations, req)
        _authorized(req, operation)
        return operation.handler(req, resp, **params)

    respond.operations = operations
    return respond


def actions(table: dict[str, Action | list[Action]]) -> Callable:
    """The handler of a `POST .../action` route: the body's one key picks the action."""
    table = {name: entry if isinstance(entry, list) else [entry] for name, entry in table.items()}
    for entries in table.values():
        _check_windows(entries)

    def dispatch(req, resp, **params):
        name, value = action_body(req)
        if name not in table:
            raise Fault(400, f"There is no such action: {name}")
        action = _chosen(table[name], req)
        _authorized(req, action)
        return action.handler(req, resp, value, **params)

    dispatch.actions = table
    return dispatch


def _check_windows(operations: list[Operation]) -> None:
    spans = sorted(operation.window for operation in operations)
    for (_, high), (low, _) in zip(spans, spans[1:]):
        if low <= high:
            raise ValueError(f"overlapping version windows: {spans}")
