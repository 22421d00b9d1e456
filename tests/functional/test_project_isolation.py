"""Project isolation on every route: a member of another project learns nothing of a resource,
and a reader of the owning project changes nothing.

For every route and action that names a tenant's resource (share, export location, metadata
key, snapshot, backup, message, and on /sharebackup/v1 backup policy), a member of project alt
asks about project demo's real
resources and about ids that do not exist: the answers must be the same (a 403 for a real id
and a 404 for a made-up one would say which ids exist). A reader of demo is refused (403)
every write. Afterwards demo's resources are as they were.

The walk sends empty bodies, which a backup-policy write refuses (400) before it looks the
policy up; so each backup-policy operation is also sent with a body that would succeed for
demo: alt still gets demo's 404, word for word the one a made-up id gets.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest

from tests.functional.api_client import ROOTS, api_routes, client_for

HEADERS = {"X-OpenStack-Manila-API-Version": "2.91", "X-OpenStack-Manila-API-Experimental": "true"}
OTHER_PROJECT = {**HEADERS, "X-Auth-Token": "alt:alt"}
READER = {**HEADERS, "X-Auth-Token": "demo:demo", "X-Roles": "reader"}
RESOURCE_FIELDS = {"share_id", "snapshot_id", "backup_id", "message_id", "export_location_id", "key",
                   "policy_id"}
POLICIES = "/sharebackup/v1/backup-policies"
ADMIN = {**HEADERS, "X-Auth-Token": "admin:admin"}
FIELD = re.compile(r"\{(\w+)\}")


def _cases():
    for template, method, handler in api_routes(ROOTS):
        if not RESOURCE_FIELDS & set(FIELD.findall(template)):
            continue
        actions = getattr(handler, "actions", None)
        for body in ([{name: {}} for name in actions] if actions else
                     [{} if method in ("POST", "PUT") else None]):
            yield template, method, body


def _seed(rt) -> dict:
    from sharebackup.db.models import (BackupPolicy, BackupPolicyRun, BackupPolicyShare, Message, Share,
                                       ShareBackup, ShareExportLocation, ShareSnapshot, ShareType)
    ids = {name: str(uuid.uuid4()) for name in ("share_id", "snapshot_id", "backup_id", "message_id",
                                               "export_location_id", "policy_id")}
    with rt.db.transaction() as session:
        share_type = session.query(ShareType).filter_by(name=rt.config.default_share_type).one()
        session.add(Share(id=ids["share_id"], user_id="demo", project_id="demo", size=1, share_proto="NFS",
                          share_type_id=share_type.id, status="available", metadata_={"isolation-key": "v"}))
        session.flush()
        session.add(ShareExportLocation(id=ids["export_location_id"], share_id=ids["share_id"], path="/exports/x"))
        session.add(ShareSnapshot(id=ids["snapshot_id"], user_id="demo", project_id="demo",
                                  share_id=ids["share_id"], size=1, share_size=1, share_proto="NFS",
                                  status="available"))
        session.add(ShareBackup(id=ids["backup_id"], user_id="demo", project_id="demo", share_id=ids["share_id"],
                                size=1, status="available"))
        session.add(Message(id=ids["message_id"], project_id="demo", resource_type="SHARE",
                            resource_id=ids["share_id"], action_id="001", message_level="ERROR",
                            user_message="seeded"))
        session.add(BackupPolicy(id=ids["policy_id"], project_id="demo", user_id="demo", name="isolation-policy",
                                 schedule="0 2 * * *", timezone="UTC", enabled=True,
                                 retention={"keep_last": 3}))
        session.flush()
        session.add(BackupPolicyShare(policy_id=ids["policy_id"], share_id=ids["share_id"]))
        session.add(BackupPolicyRun(policy_id=ids["policy_id"], share_id=ids["share_id"], state="backup_created",
                                    scheduled_at=dt.datetime(2024, 1, 1, 2), backup_id=ids["backup_id"]))
    return {**ids, "key": "isolation-key"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from tests.conftest import make_runtime
    rt = make_runtime(tmp_path_factory.mktemp("isolation") / "state")
    ids = _seed(rt)
    yield rt, client_for(rt), ids
    _assert_untouched(rt, ids)
    rt.db.dispose()


def _assert_untouched(rt, ids) -> None:
    from sharebackup.db.models import BackupPolicy, BackupPolicyRun, Message, Share, ShareBackup, ShareSnapshot
    with rt.db.reader() as session:
        share = session.get(Share, ids["share_id"])
        assert (share.status, share.deleted, share.metadata_, share.size) == ("available", False, {"isolation-key": "v"}, 1)
        assert session.get(ShareSnapshot, ids["snapshot_id"]).status == "available"
        assert session.get(ShareBackup, ids["backup_id"]).status == "available"
        assert not session.get(Message, ids["message_id"]).deleted
        policy = session.get(BackupPolicy, ids["policy_id"])
        assert (policy.project_id, policy.name, policy.schedule, policy.enabled, policy.retention,
                [link.share_id for link in policy.shares]) == \
            ("demo", "isolation-policy", "0 2 * * *", True, {"keep_last": 3}, [ids["share_id"]])
        assert session.query(BackupPolicyRun).filter_by(policy_id=ids["policy_id"]).count() == 1


def _path(template: str, ids: dict) -> str:
    return FIELD.sub(lambda m: ids.get(m.group(1), "demo" if m.group(1) == "project_id" else "x"), template)


def _made_up(ids: dict) -> dict:
    return {name: ("nokey" if name == "key" else str(uuid.uuid4())) for name in ids}


def _send(client, method, path, headers, body):
    return client.simulate_request(method, path, headers=headers, **({} if body is None else {"json": body}))


def _message(result, ids: dict) -> str:
    text = result.text
    for name, value in ids.items():
        text = text.replace(value, f"<{name}>")
    return text


@pytest.mark.parametrize("template,method,body", list(_cases()), ids=lambda v: str(v).replace(":", "="))
def test_another_project_cannot_tell_a_real_resource_from_none(world, template, method, body):
    rt, client, ids = world
    fake = _made_up(ids)
    real = _send(client, method, _path(template, ids), OTHER_PROJECT, body)
    none = _send(client, method, _path(template, fake), OTHER_PROJECT, body)
    assert 400 <= real.status_code < 500, f"{method} {template} {body}: {real.status_code} {real.text}"
    assert (real.status_code, _message(real, ids)) == (none.status_code, _message(none, fake)), \
        f"{method} {template} {body}: a real id answers {real.status_code} {real.text}, a made-up one " \
        f"{none.status_code} {none.text}"


@pytest.mark.parametrize("template,method,body", [c for c in _cases() if c[1] in ("POST", "PUT", "DELETE")],
                         ids=lambda v: str(v).replace(":", "="))
def test_a_reader_of_the_owning_project_cannot_write(world, template, method, body):
    rt, client, ids = world
    result = _send(client, method, _path(template, ids), READER, body)
    assert result.status_code in (403, 404), f"{method} {template} {body}: {result.status_code} {result.text}"
    if result.status_code == 404:  # only where the version (not the caller) rules the route out
        assert _send(client, method, _path(template, ids), {**HEADERS, "X-Auth-Token": "admin:admin"},
                     body).status_code == 404, f"{method} {template} {body}: 404 for a reader only"


def test_the_walk_covers_every_kind_of_resource():
    templates = " ".join(template for template, _, _ in _cases())
    assert all(f"{{{field}}}" in templates for field in RESOURCE_FIELDS)
    walked = {(method, template) for template, method, _ in _cases()}
    assert {("GET", POLICIES + "/{policy_id}"), ("PUT", POLICIES + "/{policy_id}"),
            ("DELETE", POLICIES + "/{policy_id}"), ("POST", POLICIES + "/{policy_id}/shares"),
            ("DELETE", POLICIES + "/{policy_id}/shares/{share_id}"), ("GET", POLICIES + "/{policy_id}/runs"),
            ("GET", "/sharebackup/v1/share-backups/{backup_id}")} <= walked


@pytest.fixture(scope="module")
def alt_policy(world):
    """Project alt's own share and policy (through the API), for the cross-project attaches."""
    rt, client, ids = world
    share = client.simulate_post("/v2/shares", headers=OTHER_PROJECT, json={"share": {"share_proto": "NFS",
                                                                                      "size": 1}})
    assert share.status_code == 200, share.text
    policy = client.simulate_post(POLICIES, headers=OTHER_PROJECT, json={"backup_policy": {
        "name": "alt-policy", "schedule": "0 3 * * *", "retention": {"keep_daily": 7}}})
    assert policy.status_code == 201, policy.text
    return policy.json["backup_policy"]["id"], share.json["share"]["id"]


def _policy_requests(ids: dict, alt_share_id: str) -> list[tuple[str, str, dict | None]]:
    """Each backup-policy operation on demo's policy, with a body that passes validation."""
    policy = f"{POLICIES}/{ids['policy_id']}"
    return [("GET", policy, None),
            ("PUT", policy, {"backup_policy": {"name": "stolen", "retention": {"keep_last": 1}}}),
            ("PUT", policy, {"backup_policy": {"enabled": False}}),
            ("DELETE", policy, None),
            ("POST", policy + "/shares", {"share_id": alt_share_id}),
            ("POST", policy + "/shares", {"share_id": ids["share_id"]}),
            ("DELETE", f"{policy}/shares/{ids['share_id']}", None),
            ("GET", policy + "/runs", None)]


def test_another_project_gets_404_for_every_backup_policy_operation(world, alt_policy):
    rt, client, ids = world
    _alt_policy_id, alt_share_id = alt_policy
    fake = _made_up(ids)
    for (method, path, body), (_, fake_path, fake_body) in zip(_policy_requests(ids, alt_share_id),
                                                               _policy_requests(fake, alt_share_id)):
        real = _send(client, method, path, OTHER_PROJECT, body)
        none = _send(client, method, fake_path, OTHER_PROJECT, fake_body)
        assert real.status_code == 404, f"{method} {path} {body}: {real.status_code} {real.text}"
        assert real.json == {"itemNotFound": {"code": 404,
                                              "message": f"Backup policy {ids['policy_id']} could not be found."}}
        assert _message(real, ids) == _message(none, fake), f"{method} {path}: {real.text} / {none.text}"


def test_another_project_lists_none_of_demos_policies(world, alt_policy):
    rt, client, ids = world
    alt_policy_id, _alt_share_id = alt_policy
    for path in (POLICIES, POLICIES + "/detail"):
        for query in ("", "all_tenants=1", "all_tenants=true"):  # all_tenants is for admins only: ignored
            listed = client.simulate_get(path, query_string=query, headers=OTHER_PROJECT)
            assert listed.status_code == 200, listed.text
            assert [p["id"] for p in listed.json["backup_policies"]] == [alt_policy_id], f"{path}?{query}"
        # demo's policy is no marker for alt: the same 400 as a made-up id
        fake = _made_up(ids)
        marker = client.simulate_get(path, query_string=f"marker={ids['policy_id']}", headers=OTHER_PROJECT)
        none = client.simulate_get(path, query_string=f"marker={fake['policy_id']}", headers=OTHER_PROJECT)
        assert marker.json == {"badRequest": {"code": 400, "message": f"marker [{ids['policy_id']}] not found"}}
        assert _message(marker, ids) == _message(none, fake)


def test_demos_share_cannot_be_attached_to_another_projects_policy(world, alt_policy):
    rt, client, ids = world
    alt_policy_id, _alt_share_id = alt_policy
    path = f"{POLICIES}/{alt_policy_id}/shares"
    fake_share = str(uuid.uuid4())
    for headers in (OTHER_PROJECT, ADMIN):  # an admin neither: a policy's backups are its project's
        real = client.simulate_post(path, headers=headers, json={"share_id": ids["share_id"]})
        none = client.simulate_post(path, headers=headers, json={"share_id": fake_share})
        assert real.status_code == 404, real.text
        assert real.json == {"itemNotFound": {"code": 404, "message": f"Share {ids['share_id']} could not be found."}}
        assert real.text.replace(ids["share_id"], "<id>") == none.text.replace(fake_share, "<id>")
    shown = client.simulate_get(f"{POLICIES}/{alt_policy_id}", headers=OTHER_PROJECT)
    assert shown.json["backup_policy"]["share_ids"] == []


def test_an_admin_with_all_tenants_sees_every_projects_policies(world, alt_policy):
    rt, client, ids = world
    alt_policy_id, _alt_share_id = alt_policy
    for path in (POLICIES, POLICIES + "/detail"):
        everyone = client.simulate_get(path, query_string="all_tenants=1", headers=ADMIN)
        assert everyone.status_code == 200, everyone.text
        assert {ids["policy_id"], alt_policy_id} <= {p["id"] for p in everyone.json["backup_policies"]}
        own = client.simulate_get(path, headers=ADMIN)  # without all_tenants: the admin's own project only
        assert not {ids["policy_id"], alt_policy_id} & {p["id"] for p in own.json["backup_policies"]}
        member = client.simulate_get(path, query_string="all_tenants=1",
                                     headers={**HEADERS, "X-Auth-Token": "demo:demo"})
        assert [p["id"] for p in member.json["backup_policies"]] == [ids["policy_id"]]
    detail = client.simulate_get(POLICIES + "/detail", query_string="all_tenants=1", headers=ADMIN)
    projects = {p["id"]: p["project_id"] for p in detail.json["backup_policies"]}
    assert (projects[ids["policy_id"]], projects[alt_policy_id]) == ("demo", "alt")
    shown = client.simulate_get(f"{POLICIES}/{ids['policy_id']}", headers=ADMIN)  # an admin may show any
    assert shown.status_code == 200 and shown.json["backup_policy"]["share_ids"] == [ids["share_id"]]
    runs = client.simulate_get(f"{POLICIES}/{ids['policy_id']}/runs", headers=ADMIN)
    assert [r["backup_id"] for r in runs.json["backup_policy_runs"]] == [ids["backup_id"]]


def test_demos_reader_sees_its_policy_and_runs_but_changes_nothing(world, alt_policy):
    rt, client, ids = world
    _alt_policy_id, alt_share_id = alt_policy
    policy = f"{POLICIES}/{ids['policy_id']}"
    assert client.simulate_get(policy, headers=READER).json["backup_policy"]["name"] == "isolation-policy"
    runs = client.simulate_get(policy + "/runs", headers=READER)
    assert runs.status_code == 200 and len(runs.json["backup_policy_runs"]) == 1
    for method, path, body in _policy_requests(ids, alt_share_id):
        if method != "GET":
            result = _send(client, method, path, READER, body)
            assert result.status_code == 403, f"{method} {path}: {result.status_code} {result.text}"
