"""Bad input never yields a 500: every route, fed malformed bodies, headers and parameters.

Each case is sent as admin (so policy does not stop it first) and must be answered with
a 4xx Manila fault body. The cases are the ones listed in the foundation issue's closing
note: bad JSON, wrong types, oversized bodies, unknown actions, bad versions.

Our own API (/sharebackup/v1) gets the same bodies and query strings, and bodies of its own
shapes with one bad field each (so they get past the checks before it): on made-up ids, and
on a real policy with a real share attached, whose every view is read again afterwards.
"""
from __future__ import annotations

import json
import uuid

import pytest

from tests.functional.api_client import EXTENSION, ROOTS, api_routes, client_for, concrete_path

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


WRITE_ROUTES = [(t, m) for t, m, _ in api_routes(ROOTS) if m in ("POST", "PUT")]


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


GET_ROUTES = [t for t, m, _ in api_routes(ROOTS) if m == "GET"]
BAD_QUERIES = ["limit=abc", "limit=-1", "offset=-5", "offset=x", "sort_key=nonexistent", "sort_dir=sideways",
               "all_tenants=maybe", "is_public=perhaps", "limit=99999999999999999999", "name~=%25_",
               "is_soft_deleted=notabool", "user_id=%00", "share_id=" + "a" * 5000, "marker=unknown",
               "marker=" + "m" * 5000, "limit=1&marker=%00", "limit=0", "all_tenants=1&limit=-0"]


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


VALID_POLICY = {"name": "p", "schedule": "0 2 * * *", "retention": {"keep_last": 3}}


def _policy_with(**fields) -> dict:
    return {"backup_policy": {**VALID_POLICY, **fields}}


POLICY_BODIES = {
    "policy is a list": {"backup_policy": [VALID_POLICY]},
    "policy is a string": {"backup_policy": "p"},
    "policy is null": {"backup_policy": None},
    "name is an object": _policy_with(name={"a": {"b": {"c": [1]}}}),
    "name is a boolean": _policy_with(name=True),
    "name is a huge number": _policy_with(name=10 ** 40),
    "name is 10000 characters": _policy_with(name="n" * 10_000),
    "name is blank": _policy_with(name="   "),
    "description is a list": _policy_with(description=["d"]),
    "description is 10000 characters": _policy_with(description="d" * 10_000),
    "enabled is maybe": _policy_with(enabled="maybe"),
    "enabled is null": _policy_with(enabled=None),
    "enabled is a list": _policy_with(enabled=[True]),
    "enabled is 2": _policy_with(enabled=2),
    "schedule is 5": _policy_with(schedule=5),
    "schedule is a boolean": _policy_with(schedule=False),
    "schedule is a list": _policy_with(schedule=["0", "2", "*", "*", "*"]),
    "schedule is empty": _policy_with(schedule=""),
    "schedule has six fields": _policy_with(schedule="0 2 * * * *"),
    "schedule minute 61": _policy_with(schedule="61 * * * *"),
    "schedule never falls due": _policy_with(schedule="0 0 30 2 *"),
    "schedule is an empty interval": _policy_with(schedule="PT0S"),
    "schedule is too often": _policy_with(schedule="PT5M"),
    "schedule interval of seconds beyond a C int": _policy_with(schedule="PT99999999999999999999S"),
    "schedule interval of weeks beyond a C int": _policy_with(schedule="P99999999999999W"),
    "schedule interval past the year 9999": _policy_with(schedule="P1000000W"),
    "schedule is 10000 characters": _policy_with(schedule="0 " * 5000),
    "timezone is a path": _policy_with(timezone="../../etc/passwd"),
    "timezone is an absolute path": _policy_with(timezone="/etc/localtime"),
    "timezone is a number": _policy_with(timezone=5),
    "timezone is a boolean": _policy_with(timezone=True),
    "timezone is 1000 characters": _policy_with(timezone="Europe/" + "x" * 1000),
    "timezone is blank": _policy_with(timezone=""),
    "backup_type is a number": _policy_with(backup_type=5),
    "backup_type is unknown": _policy_with(backup_type="nope"),
    "backup_type is a path": _policy_with(backup_type="../default"),
    "retention is a string": _policy_with(retention="keep_last=3"),
    "retention is a list": _policy_with(retention=[3]),
    "retention is null": _policy_with(retention=None),
    "retention is empty": _policy_with(retention={}),
    "keep_last is -1": _policy_with(retention={"keep_last": -1}),
    "keep_last is true": _policy_with(retention={"keep_last": True}),
    "keep_last is a string": _policy_with(retention={"keep_last": "3"}),
    "keep_last is 2.5": _policy_with(retention={"keep_last": 2.5}),
    "keep_last is huge": _policy_with(retention={"keep_last": 10 ** 40}),
    "keep_last is an object": _policy_with(retention={"keep_last": {"n": 3}}),
    "every keep is zero": _policy_with(retention={key: 0 for key in ("keep_last", "keep_hourly", "keep_daily",
                                                                      "keep_weekly", "keep_monthly",
                                                                      "keep_yearly")}),
    "keep_within is a number": _policy_with(retention={"keep_within": 5}),
    "keep_within is no duration": _policy_with(retention={"keep_within": "forever"}),
    "unknown retention key": _policy_with(retention={"keep_last": 1, "keep_forever": True}),
    "unknown field": _policy_with(colour="blue"),
    "every field null": {"backup_policy": {key: None for key in ("name", "description", "enabled", "schedule",
                                                                 "timezone", "backup_type", "retention")}},
}
SHARE_ID_BODIES = {
    "share_id is a list": {"share_id": [str(uuid.uuid4())]},
    "share_id is an object": {"share_id": {"id": str(uuid.uuid4())}},
    "share_id is a huge number": {"share_id": 10 ** 40},
    "share_id is a boolean": {"share_id": True},
    "share_id is 5000 characters": {"share_id": "s" * 5000},
    "share_id is blank": {"share_id": ""},
    "share_id is null": {"share_id": None},
    "share_id is a path": {"share_id": "../../etc/passwd"},
    "share_id is missing": {"share": {"id": str(uuid.uuid4())}},
    "body is a list of share_ids": [{"share_id": str(uuid.uuid4())}],
}
EXTENSION_BODIES = {**POLICY_BODIES, **SHARE_ID_BODIES}
EXTENSION_WRITES = [(t, m) for t, m in WRITE_ROUTES if t.startswith(EXTENSION)]


@pytest.mark.parametrize("template,method", EXTENSION_WRITES)
@pytest.mark.parametrize("name", sorted(EXTENSION_BODIES))
def test_hostile_extension_bodies(client, template, method, name):
    result = client.simulate_request(method, concrete_path(template), headers=ADMIN, json=EXTENSION_BODIES[name])
    _assert_fault(result, f"{method} {template} with {name}")


def _owner(client) -> tuple[dict, str, str]:
    """A project of its own (so a policy one case breaks cannot break another case's listing),
    with a share attached to a policy."""
    headers = {"X-Auth-Token": f"fuzz:{uuid.uuid4().hex}", "X-OpenStack-Manila-API-Version": "2.91"}
    share = client.simulate_post("/v2/shares", headers=headers, json={"share": {"share_proto": "NFS", "size": 1}})
    assert share.status_code == 200, share.text
    share_id = share.json["share"]["id"]
    policy = client.simulate_post("/sharebackup/v1/backup-policies", headers=headers, json=_policy_with())
    assert policy.status_code == 201, policy.text
    policy_id = policy.json["backup_policy"]["id"]
    attached = client.simulate_post(f"/sharebackup/v1/backup-policies/{policy_id}/shares", headers=headers,
                                    json={"share_id": share_id})
    assert attached.status_code == 200, attached.text
    return headers, share_id, policy_id


def _reads(policy_id: str) -> list[str]:
    root = "/sharebackup/v1/backup-policies"
    return [root, f"{root}/detail", f"{root}/{policy_id}", f"{root}/{policy_id}/runs"]


@pytest.mark.parametrize("name", sorted(POLICY_BODIES))
def test_hostile_policy_bodies_on_a_real_policy(client, name):
    """Created or updated (a policy with a share attached, so its next run is worked out), then
    every read of it: a body the API takes must not leave a policy that no read can show."""
    headers, _share_id, policy_id = _owner(client)
    body = POLICY_BODIES[name]
    created = client.simulate_post("/sharebackup/v1/backup-policies", headers=headers, json=body)
    _assert_fault(created, f"create with {name}")
    updated = client.simulate_put(f"/sharebackup/v1/backup-policies/{policy_id}", headers=headers, json=body)
    _assert_fault(updated, f"update with {name}")
    for path in _reads(policy_id):
        _assert_fault(client.simulate_get(path, headers=headers), f"GET {path} after {name}")


@pytest.mark.parametrize("name", sorted(SHARE_ID_BODIES))
def test_hostile_share_ids_on_a_real_policy(client, name):
    headers, share_id, policy_id = _owner(client)
    path = f"/sharebackup/v1/backup-policies/{policy_id}/shares"
    result = client.simulate_post(path, headers=headers, json=SHARE_ID_BODIES[name])
    _assert_fault(result, f"attach with {name}")
    assert result.status_code in (400, 404), f"attach with {name}: {result.status_code} {result.text}"
    shown = client.simulate_get(f"/sharebackup/v1/backup-policies/{policy_id}", headers=headers)
    assert shown.json["backup_policy"]["share_ids"] == [share_id]


@pytest.mark.parametrize("query", BAD_QUERIES)
def test_bad_query_parameters_on_a_real_policy(client, query):
    headers, _share_id, policy_id = _owner(client)
    for path in _reads(policy_id):
        _assert_fault(client.simulate_get(path, query_string=query, headers=headers), f"GET {path}?{query}")
        _assert_fault(client.simulate_get(path, query_string=query, headers=ADMIN), f"GET {path}?{query} as admin")


def test_an_unknown_marker_is_400_and_a_bad_limit_is_400(client):
    headers, _share_id, policy_id = _owner(client)
    for path in ("/sharebackup/v1/backup-policies", f"/sharebackup/v1/backup-policies/{policy_id}/runs"):
        for query, message in (("marker=unknown", "marker [unknown] not found"),
                               ("limit=-1", "limit must be a whole number, 0 or more."),
                               ("limit=abc", "limit must be a whole number, 0 or more.")):
            result = client.simulate_get(path, query_string=query, headers=headers)
            assert result.status_code == 400 and result.json == {"badRequest": {"code": 400, "message": message}}, \
                f"GET {path}?{query}: {result.status_code} {result.text}"
    result = client.simulate_get("/sharebackup/v1/backup-policies", query_string="all_tenants=maybe", headers=ADMIN)
    assert result.status_code == 400 and "maybe" in result.json["badRequest"]["message"], result.text
