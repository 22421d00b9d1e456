"""Oversized and odd request headers that reach our code are 4xx faults or ignored, never 5xx
(issue 16): a microversion of 5,000 digits, a 1 MB token, X-Roles or request id.

cheroot (``sharebackup serve``) sets no limit on a header's size, so these do arrive.
"""
from __future__ import annotations

import pytest
from falcon import testing

from sharebackup.api.app import make_app
from tests.functional.api_client import api_routes, client_for, concrete_path

HUGE = "1" * 5000  # int() refuses more than 4,300 digits
MEGABYTE = 1 << 20
VERSION = {"X-OpenStack-Manila-API-Version": "2.91"}
HUGE_VERSIONS = {
    "minor": {"X-OpenStack-Manila-API-Version": f"2.{HUGE}"},
    "major": {"X-OpenStack-Manila-API-Version": f"{HUGE}.0"},
    "standard header": {"OpenStack-API-Version": f"shared-file-system 2.{HUGE}"},
}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from tests.conftest import make_runtime
    rt = make_runtime(tmp_path_factory.mktemp("headers") / "state")
    yield client_for(rt)
    rt.db.dispose()


@pytest.mark.parametrize("template,method", [(t, m) for t, m, _ in api_routes()])
@pytest.mark.parametrize("which", sorted(HUGE_VERSIONS))
def test_huge_microversion_is_406_on_every_route(client, template, method, which):
    headers = {"X-Auth-Token": "admin:admin", "Content-Type": "application/json", **HUGE_VERSIONS[which]}
    result = client.simulate_request(method, concrete_path(template), headers=headers, body=b"{}")
    assert result.status_code == 406, f"{method} {template}: {result.status_code} {result.text}"
    message = result.json["computeFault"]["message"]
    assert message.endswith("... is not supported by the API. Minimum is 2.0 and maximum is 2.91.")
    assert len(message) < 200  # the header is echoed cut short


def test_huge_malformed_microversion_is_400(client):
    result = client.simulate_get("/v2/shares", headers={"X-Auth-Token": "admin:admin",
                                                        "X-OpenStack-Manila-API-Version": HUGE})
    assert result.status_code == 400
    assert result.json["badRequest"]["message"].startswith("API Version String 111")


def _client(runtime):
    return testing.TestClient(make_app(runtime))


@pytest.mark.parametrize("token", ["a" * MEGABYTE, "demo:" + "p" * 256, "u" * 256 + ":demo", "demo\x00:demo"],
                         ids=["1 MB token", "long project", "long user", "NUL"])
def test_noauth_ids_the_columns_cannot_hold_are_401(runtime, token):
    """noauth takes user and project from the token; ids longer than the columns (or with a NUL)
    were a 500 on PostgreSQL at the first write."""
    client = _client(runtime)
    headers = {"X-Auth-Token": token, "Content-Type": "application/json", **VERSION}
    for method, path, body in (("GET", "/v2/shares", None),
                               ("POST", "/v2/shares", b'{"share": {"share_proto": "NFS", "size": 1}}')):
        result = client.simulate_request(method, path, headers=headers, body=body)
        assert result.status_code == 401, f"{method} {path}: {result.status_code} {result.text[:200]}"
        assert result.json["unauthorized"]["code"] == 401


def test_noauth_ids_of_the_column_size_are_accepted(runtime):
    client = _client(runtime)
    user, project = "u" * 255, "p" * 255
    headers = {"X-Auth-Token": f"{user}:{project}", "Content-Type": "application/json", **VERSION}
    created = client.simulate_post("/v2/shares", headers=headers,
                                   body=b'{"share": {"share_proto": "NFS", "size": 1}}')
    assert created.status_code == 200, created.text[:300]
    assert created.json["share"]["project_id"] == project


def test_megabyte_static_token_is_401(tmp_path):
    from tests.conftest import make_runtime
    rt = make_runtime(tmp_path / "state", auth_strategy="tokens")
    try:
        result = testing.TestClient(make_app(rt)).simulate_get(
            "/v2/shares", headers={"X-Auth-Token": "t" * MEGABYTE, **VERSION})
        assert result.status_code == 401
        assert result.json["unauthorized"]["code"] == 401
    finally:
        rt.db.dispose()


def test_megabyte_roles_header_is_only_roles(client):
    roles = ",".join(["reader"] + ["nobody"] * (MEGABYTE // 7))
    result = client.simulate_get("/v2/shares", headers={"X-Auth-Token": "demo:demo", "X-Roles": roles, **VERSION})
    assert result.status_code == 200, result.text[:200]


def test_megabyte_request_id_header_is_ignored(client):
    result = client.simulate_get("/v2/shares", headers={"X-Auth-Token": "demo:demo", **VERSION,
                                                        "X-Openstack-Request-Id": "r" * MEGABYTE})
    assert result.status_code == 200
    assert result.headers["x-openstack-request-id"].startswith("req-")
    assert len(result.headers["x-openstack-request-id"]) < 64
