"""Text that cannot be stored is refused where bodies are parsed, on every write route (issue 16).

The whole route table is walked (/v2 and our own /sharebackup/v1), and each action name of an
action route: a lone surrogate (``"\\ud800"``: valid JSON, not Unicode) or a NUL anywhere in a
body, key or value, at any depth, is Manila's 400 before any handler looks at the body. Before,
these were 500s (often with an empty body), and a surrogate that reached share metadata broke
every listing of it.

The surrogate's place in a body (under a key no handler expects) is deliberate: only a check
of the whole parsed body, not of the fields each schema reads, answers 400 for all of them.
"""
from __future__ import annotations

import json

import pytest

from sharebackup.api.body import HAS_NUL, NOT_UNICODE
from tests.functional.api_client import EXTENSION, ROOTS, api_routes, client_for, concrete_path

ADMIN = {"X-Auth-Token": "admin:admin", "X-OpenStack-Manila-API-Version": "2.91",
         "X-OpenStack-Manila-API-Experimental": "true", "Content-Type": "application/json"}
WRITE_METHODS = ("POST", "PUT", "PATCH")
# The os-quota-sets and os-quota-class-sets families exist up to 2.6 only (404 after it, before
# the body is read, as in Manila): they are sent at 2.6, everything else at 2.91 (ignored by
# /sharebackup/v1, which has no microversions).
LEGACY_PREFIX, LEGACY_VERSION = "/v2/os-", "2.6"


def _headers(template: str) -> dict:
    if template.startswith(LEGACY_PREFIX):
        return {**ADMIN, "X-OpenStack-Manila-API-Version": LEGACY_VERSION}
    return ADMIN


def _bodies(top: str) -> dict[str, tuple[bytes, str]]:
    """name -> (body on the wire, expected message), the bad text under the key ``top``."""
    def dumped(value):  # json.dumps writes "\ud800" as the six ASCII characters \ud800
        return json.dumps({top: value}).encode()
    return {
        "surrogate value": (dumped({"name": "\ud800"}), NOT_UNICODE),
        "surrogate key": (dumped({"\udfff": "x"}), NOT_UNICODE),
        "surrogate deep in a list": (dumped({"metadata": {"k": ["ok", {"v": "a\udbffz"}]}}), NOT_UNICODE),
        "surrogate as the whole value": (dumped("\ud800"), NOT_UNICODE),
        # The same character as raw bytes (ED A0 80): json.loads decodes bytes with surrogatepass.
        "surrogate as raw bytes": (b'{"' + top.encode() + b'": {"name": "\xed\xa0\x80"}}', NOT_UNICODE),
        "NUL value": (dumped({"name": "a\x00b"}), HAS_NUL),
        "NUL key": (dumped({"k\x00": "v"}), HAS_NUL),
    }


def _cases():
    """(template, method, top-level key) for every write route; action routes once per action."""
    for template, method, handler in api_routes(ROOTS):
        if method not in WRITE_METHODS:
            continue
        for top in sorted(getattr(handler, "actions", None) or ["resource"]):
            yield template, method, top


CASES = list(_cases())


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from tests.conftest import make_runtime
    rt = make_runtime(tmp_path_factory.mktemp("hostile") / "state")
    yield client_for(rt)
    rt.db.dispose()


@pytest.mark.parametrize("template,method,top", CASES, ids=lambda v: v.replace(":", "="))
def test_unstorable_text_in_a_body_is_400(client, template, method, top):
    path = concrete_path(template)
    for name, (body, message) in _bodies(top).items():
        result = client.simulate_request(method, path, headers=_headers(template), body=body)
        assert result.status_code == 400, f"{method} {template} {top}, {name}: {result.status_code} {result.text}"
        assert result.json == {"badRequest": {"code": 400, "message": message}}, f"{method} {template} {name}"


def test_walk_covers_every_write_route_and_action():
    templates = {template for template, _, _ in CASES}
    assert {"/v2/shares", "/v2/shares/manage", "/v2/types/{share_type_id}/extra_specs",
            "/v2/quota-class-sets/{class_name}", "/v2/share-backups/{backup_id}/action"} <= templates
    share_actions = {top for template, _, top in CASES if template == "/v2/shares/{share_id}/action"}
    assert {"extend", "shrink", "reset_status", "revert", "unmanage"} <= share_actions
    assert len(CASES) >= 35  # 39 when written: 18 write routes, and 21 actions of 4 action routes
    assert {"/sharebackup/v1/backup-policies", "/sharebackup/v1/backup-policies/{policy_id}",
            "/sharebackup/v1/backup-policies/{policy_id}/shares",
            "/sharebackup/v1/share-backups/{backup_id}/restore"} <= templates


def test_valid_text_is_not_refused(client):
    """Astral characters (a surrogate pair in JSON) and other non-ASCII text are Unicode: stored."""
    body = json.dumps({"share_type": {"name": "t\U0001F600 é ✓",
                                      "extra_specs": {"driver_handles_share_servers": "False"}}})
    result = client.simulate_post("/v2/types", headers=ADMIN, body=body)
    assert result.status_code == 200, result.text
    assert result.json["share_type"]["name"] == "t\U0001F600 é ✓"


def test_unstorable_text_in_a_backup_policy_is_400_where_each_field_is_read(client):
    """The surrogate and the NUL in the very fields the policy schema reads (and as the share to
    attach to a real policy), not only under a key no handler expects: 400, nothing stored."""
    headers = {**ADMIN, "X-Auth-Token": "hostile:hostile"}
    valid = {"name": "p", "schedule": "0 2 * * *", "retention": {"keep_last": 1}}
    created = client.simulate_post(EXTENSION + "backup-policies", headers=headers, json={"backup_policy": valid})
    assert created.status_code == 201, created.text
    policy = created.json["backup_policy"]
    for bad, message in (("\ud800", NOT_UNICODE), ("a\x00b", HAS_NUL)):
        for field, value in (("name", bad), ("description", bad), ("schedule", bad), ("timezone", bad),
                             ("backup_type", bad), ("retention", {"keep_within": bad})):
            body = json.dumps({"backup_policy": {**valid, field: value}}).encode()
            for method, path in (("POST", EXTENSION + "backup-policies"),
                                 ("PUT", EXTENSION + f"backup-policies/{policy['id']}")):
                result = client.simulate_request(method, path, headers=headers, body=body)
                assert result.json == {"badRequest": {"code": 400, "message": message}}, \
                    f"{method} {field}={value!r}: {result.status_code} {result.text}"
        attach = client.simulate_post(EXTENSION + f"backup-policies/{policy['id']}/shares", headers=headers,
                                      body=json.dumps({"share_id": bad}).encode())
        assert attach.json == {"badRequest": {"code": 400, "message": message}}, attach.text
    listed = client.simulate_get(EXTENSION + "backup-policies/detail", headers=headers)
    assert listed.status_code == 200 and listed.json["backup_policies"] == [policy], listed.text
