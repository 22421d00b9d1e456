"""Bad input never yields a 500: every route, fed malformed bodies, headers and parameters.

Each case is sent as admin (so policy does not stop it first) and must be answered with
a 4xx Manila fault body. The cases are the ones listed in the foundation issue's closing
note: bad JSON, wrong types, oversized bodies, unknown actions, bad versions.
"""
from __future__ import annotations

import json

import pytest

from tests.functional.api_client import api_routes, client_for, concrete_path

ADMIN = {"X-Auth-Token": "admin:admin", "X-OpenStack-Manila-API-Version": "2.91"}

BODIES = {
    "invalid json": b'{"share": {',
    "json array": b"[1, 2, 3]",
    "json string": b'"share"',
    "json null": b"null",
    "empty object": b"{}",
    "wrong types": json.dumps({k: {"size": "big", "name": 7, "share_proto": ["NFS"], "metadata": "x",
                                   "is_public": "maybe", "status": 5, "new_size": -1, "extra_specs": [],
                                   "shares": "ten", "share_id": {"a": 1}}
                               for k in ("share", "share_type", "snapshot", "quota_set", "quota_class_set",
                                         "extra_specs", "metadata")}).encode(),
    "unknown action": b'{"frobnicate": {}}',
    "two actions": b'{"extend": {"new_size": 2}, "shrink": {"new_size": 1}}',
    "deep nesting": b"[" * 5000 + b"]" * 5000,
    "huge integers": json.dumps({"share": {"size": 10 ** 40, "share_proto": "NFS"},
                                 "quota_set": {"shares": 10 ** 40}}).encode(),
}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from tests.conftest import make_runtime
    rt = make_runtime(tmp_path_factory.mktemp("fuzz") / "state")
    yield client_for(rt)
    rt.db.dispose()


def _assert_fault(result, what):
    assert result.status_code < 500, f"{what}: {result.status_code} {result.text}"
    if result.status_code >= 400:
        body = result.json
        assert isinstance(body, dict) and len(body) == 1, f"{what}: not a fault body: {result.text}"
        (inner,) = body.values()
        assert inner["code"] == result.status_code and inner["message"], what


WRITE_ROUTES = [(t, m) for t, m, _ in api_routes() if m in ("POST", "PUT")]


@pytest.mark.parametrize("template,method", WRITE_ROUTES)
@pytest.mark.parametrize("name", sorted(BODIES))
def test_malformed_bodies(client, template, method, name):
    result = client.simulate_request(method, concrete_path(template), headers={
        **ADMIN, "Content-Type": "application/json"}, body=BODIES[name])
    _assert_fault(result, f"{method} {template} with {name}")


@pytest.mark.parametrize("size", [200_000, 10 * 1024 * 1024])
@pytest.mark.parametrize("template,method", WRITE_ROUTES)
def test_oversized_body_is_413(client, template, method, size):
    body = b'{"x": "' + b"a" * size + b'"}'
    result = client.simulate_request(method, concrete_path(template), headers={
        **ADMIN, "Content-Type": "application/json"}, body=body)
    assert result.status_code == 413, f"{method} {template}: {result.status_code}"
    assert result.json["overLimit"]["code"] == 413


@pytest.mark.parametrize("template,method", WRITE_ROUTES)
def test_non_json_content_type_is_read_as_no_body(client, template, method):
    result = client.simulate_request(method, concrete_path(template), headers={
        **ADMIN, "Content-Type": "text/plain"}, body=b'{"share": {"size": 1}}')
    _assert_fault(result, f"{method} {template} text/plain")
    assert result.status_code in (400, 403, 404, 405, 415, 422), result.text


GET_ROUTES = [t for t, m, _ in api_routes() if m == "GET"]
BAD_QUERIES = ["limit=abc", "limit=-1", "offset=-5", "offset=x", "sort_key=nonexistent", "sort_dir=sideways",
               "all_tenants=maybe", "is_public=perhaps", "limit=99999999999999999999", "name~=%25_",
               "is_soft_deleted=notabool", "user_id=%00", "share_id=" + "a" * 5000]


@pytest.mark.parametrize("template", GET_ROUTES)
@pytest.mark.parametrize("query", BAD_QUERIES)
def test_bad_query_parameters(client, template, query):
    result = client.simulate_get(concrete_path(template), query_string=query, headers=ADMIN)
    _assert_fault(result, f"GET {template}?{query}")


@pytest.mark.parametrize("version", ["latest", "2", "2.", "2.x", "02.10", "3.0", "1.99", "2.100", "-2.1", " ", "2.0.1"])
def test_bad_versions(client, version):
    result = client.simulate_get("/v2/shares", headers={"X-Auth-Token": "admin:admin",
                                                        "X-OpenStack-Manila-API-Version": version})
    assert result.status_code in (400, 406), f"{version!r}: {result.status_code}"
    _assert_fault(result, version)
