"""A Falcon test client over a fresh runtime, for tests that walk the route table."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from falcon import testing

from sharebackup.api.app import make_app
from sharebackup.api.routes import ROUTES

FIELD = re.compile(r"\{(\w+)\}")


def client_for(rt) -> testing.TestClient:
    return testing.TestClient(make_app(rt))


def concrete_path(template: str) -> str:
    """A route template with a made-up value for each field (no such resource exists)."""
    return FIELD.sub(lambda m: "demo" if m.group(1) == "project_id" else str(uuid.uuid4()), template)


def _operations(methods: dict):
    for method, operations in methods.items():
        for operation in operations if isinstance(operations, list) else [operations]:
            yield method, operation


def api_routes():
    """(template, method, handler) for every authenticated route (one row per method)."""
    for template, methods in ROUTES.items():
        if not template.startswith("/v2/"):
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

    def __str__(self) -> str:  # test ids; gabbi claims ids with ":"
        return f"{self.method} {self.template} {self.body or ''}".strip().replace(":", "=")


def operation_cases():
    """Every operation of the /v2 API, each action of an action route apart."""
    for template, methods in ROUTES.items():
        if not template.startswith("/v2/"):
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
