"""A Falcon test client over a fresh runtime, for tests that walk the route table."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from falcon import testing

from sharebackup.api.app import make_app
from sharebackup.api.routes import ROUTES

FIELD = re.compile(r"\{(\w+)\}")
V2 = "/v2/"  # Manila's API: microversions (X-OpenStack-Manila-API-Version) pick each operation's window
EXTENSION = "/sharebackup/v1/"  # our own API: the same auth and policy, no microversions
V2_ONLY = (V2,)
ROOTS = (V2, EXTENSION)  # every authenticated route (discovery, /sharebackup and /sharebackup/v1, needs none)


def client_for(rt) -> testing.TestClient:
    return testing.TestClient(make_app(rt))


def concrete_path(template: str) -> str:
    """A route template with a made-up value for each field (no such resource exists)."""
    return FIELD.sub(lambda m: "demo" if m.group(1) == "project_id" else str(uuid.uuid4()), template)


def _operations(methods: dict):
    for method, operations in methods.items():
        for operation in operations if isinstance(operations, list) else [operations]:
            yield method, operation


def api_routes(roots: tuple[str, ...] = V2_ONLY):
    """(template, method, handler) for every authenticated route under ``roots`` (one row per method).

    The default is /v2 alone, for the tests of microversion headers (test_hostile_headers): the
    extension API reads no version header, so a bad one is no 406 there. Walks of policy, bodies,
    query strings and isolation pass ROOTS and cover /sharebackup/v1 too."""
    for template, methods in ROUTES.items():
        if not template.startswith(roots):
            continue
        seen = set()
        for method, operation in _operations(methods):
            if method not in seen:
                seen.add(method)
                yield template, method, operation.handler


@dataclass(frozen=True)
class Case:
    """One operation (or one action of an action route) with its policy and version window."""
    template: str
    method: str
    body: dict | None
    policy: str
    since: str
    until: str | None

    @property
    def versioned(self) -> bool:
        """Whether a version header picks this operation (/v2); an extension route (/sharebackup/v1)
        has no window: its since is the default "2.0" only because Operation has one."""
        return self.template.startswith(V2)

    def __str__(self) -> str:  # test ids; gabbi claims ids with ":"
        return f"{self.method} {self.template} {self.body or ''}".strip().replace(":", "=")


def operation_cases(roots: tuple[str, ...] = V2_ONLY):
    """Every operation under ``roots`` (/v2 by default; ROOTS adds /sharebackup/v1), each action of
    an action route apart."""
    for template, methods in ROUTES.items():
        if not template.startswith(roots):
            continue
        for method, operation in _operations(methods):
            table = getattr(operation.handler, "actions", None)
            if table:
                for name, entries in table.items():
                    for action in entries:
                        yield Case(template, method, {name: {}}, action.policy, action.since, action.until)
            else:
                yield Case(template, method, {} if method in ("POST", "PUT") else None, operation.policy,
                           operation.since, operation.until)
