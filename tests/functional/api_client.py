"""A Falcon test client over a fresh runtime, for tests that walk the route table."""
from __future__ import annotations

import re
import uuid

from falcon import testing

from sharebackup.api.app import make_app
from sharebackup.api.routes import ROUTES

FIELD = re.compile(r"\{(\w+)\}")


def client_for(rt) -> testing.TestClient:
    return testing.TestClient(make_app(rt))


def concrete_path(template: str) -> str:
    """A route template with a made-up value for each field (no such resource exists)."""
    return FIELD.sub(lambda m: "demo" if m.group(1) == "project_id" else str(uuid.uuid4()), template)


def api_routes():
    """(template, method, handler) for every authenticated route."""
    for template, methods in ROUTES.items():
        if not template.startswith("/v2/"):
            continue
        for method, handler in methods.items():
            yield template, method, handler
