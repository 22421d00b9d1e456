"""Policy everywhere: every route (and every action) refuses a caller without the needed role.

The caller has a valid token but no role at all, so every rule (reader, member, admin)
must fail. A route that answers anything but 403 ships unguarded, and this test names it.
"""
from __future__ import annotations

import pytest

from tests.functional.api_client import api_routes, client_for, concrete_path

NO_ROLES = {"X-Auth-Token": "demo:demo", "X-Roles": "nobody",
            "X-OpenStack-Manila-API-Version": "2.91", "X-OpenStack-Manila-API-Experimental": "true"}


def _cases():
    for template, method, handler in api_routes():
        actions = getattr(handler, "actions", None)
        if actions:
            for name in actions:
                yield template, method, {name: {}}
        else:
            yield template, method, {} if method in ("POST", "PUT") else None


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from tests.conftest import make_runtime
    rt = make_runtime(tmp_path_factory.mktemp("walk") / "state")
    yield client_for(rt)
    rt.db.dispose()


@pytest.mark.parametrize("template,method,body", list(_cases()),
                         ids=lambda v: v if isinstance(v, str) else str(v).replace(":", "="))  # gabbi claims ids with ":"
def test_route_refuses_caller_without_role(client, template, method, body):
    kwargs = {"headers": NO_ROLES}
    if body is not None:
        kwargs["json"] = body
    result = client.simulate_request(method, concrete_path(template), **kwargs)
    assert result.status_code == 403, f"{method} {template} {body}: {result.status_code} {result.text}"
    assert result.json == {"forbidden": {"code": 403, "message": "Access was denied to this resource."}}


def test_walk_covers_every_route():
    templates = {template for template, _, _ in api_routes()}
    assert "/v2/shares" in templates and "/v2/quota-sets/{project_id}" in templates
    assert len(list(_cases())) >= 40
