"""`openstack share backup policy ...` (our OSC plugin, sharebackup/osc) with the real `openstack`
executable against a real `sharebackup serve`, authenticated with tokens from `sharebackup token create`.

The plugin finds /sharebackup/v1 from the Manila endpoint the CLI is given (`--os-endpoint .../v2`).
Each test uses its own names (and the paging test its own project), so xdist may spread them.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest

from tests.integration.server_process import (member, other_member, unique,  # noqa: F401
                                              describe, openstack_json, openstack_ok, run_openstack,
                                              server, wait_for)  # noqa: F401

# about a minute and a half of `openstack` start-ups: the scale tier (make test-scale, run by .ci/run)
pytestmark = pytest.mark.scale

WAIT = 30.0  # seconds a share may take to become available


def policy_cli(server, token, home, *args, json_output=True):
    """`openstack share backup policy ARGS` (never raises; the caller asserts)."""
    return run_openstack(["share", "backup", "policy", *args], token, server.endpoint, home=home,
                         json_output=json_output)


def policy_json(server, token, home, *args):
    return openstack_json(["share", "backup", "policy", *args], token, server.endpoint, home=home)


def policy_ok(server, token, home, *args):
    return openstack_ok(["share", "backup", "policy", *args], token, server.endpoint, home=home)


def assert_clean_failure(result, *texts: str):
    """Exit code 1, the texts on stderr, and no Python traceback."""
    assert result.returncode == 1, describe(result)
    for text in texts:
        assert text in result.stderr, describe(result)
    assert "Traceback" not in result.stderr + result.stdout, describe(result)


def create_share(server, token, home) -> str:
    share = openstack_json(["share", "create", "NFS", "1", "--name", unique("polshare")], token, server.endpoint,
                           home=home)

    def available():
        shown = openstack_json(["share", "show", share["id"]], token, server.endpoint, home=home)
        assert "error" not in shown["status"], shown
        return shown["status"] == "available"
    wait_for(available, timeout=WAIT, interval=0.2, what=f"share {share['id']} to be available")
    return share["id"]


def raw_create(server, token, body: dict) -> tuple[int, dict]:
    """POST /sharebackup/v1/backup-policies without the CLI: the server's own answer."""
    request = urllib.request.Request(server.root + "sharebackup/v1/backup-policies", method="POST",
                                     data=json.dumps(body).encode(), headers={
                                         "X-Auth-Token": token, "Content-Type": "application/json",
                                         "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


# -- the whole life of a policy --------------------------------------------------------------------

def test_policy_lifecycle(server, member, tmp_path):
    name = unique("nightly")
    created = policy_json(server, member, tmp_path, "create", name, "--schedule", "0 2 * * *",
                          "--timezone", "Europe/Berlin", "--description", "every night", "--keep-daily", "7",
                          "--keep-last", "3", "--keep-within", "2d")
    for field in ("id", "name", "description", "enabled", "schedule", "timezone", "backup_type", "retention",
                  "share_ids", "project_id", "user_id", "created_at", "updated_at", "next_run_at"):
        assert field in created, created
    assert (created["name"], created["schedule"], created["timezone"]) == (name, "0 2 * * *", "Europe/Berlin")
    assert created["description"] == "every night" and created["enabled"] is True, created
    assert created["retention"]["keep_daily"] == 7 and created["retention"]["keep_last"] == 3, created
    assert created["retention"]["keep_within"] == "2d", created
    assert created["share_ids"] == [] and created["project_id"] == "alpha", created
    policy_id = created["id"]

    listed = policy_json(server, member, tmp_path, "list")
    assert {"ID": policy_id, "Name": name} in [{"ID": p["ID"], "Name": p["Name"]} for p in listed], listed

    shown = policy_json(server, member, tmp_path, "show", name)
    assert shown["id"] == policy_id and shown["retention"] == created["retention"], shown

    policy_ok(server, member, tmp_path, "set", name, "--schedule", "30 3 * * *", "--keep-daily", "14")
    changed = policy_json(server, member, tmp_path, "show", policy_id)
    assert changed["schedule"] == "30 3 * * *" and changed["retention"]["keep_daily"] == 14, changed
    # a partial update leaves everything else alone
    assert changed["retention"]["keep_last"] == 3 and changed["timezone"] == "Europe/Berlin", changed
    assert changed["name"] == name and changed["description"] == "every night", changed

    share_id = create_share(server, member, tmp_path)
    attached = policy_json(server, member, tmp_path, "add", "share", name, share_id)
    assert attached["id"] == policy_id and attached["share_ids"] == [share_id], attached

    runs = policy_json(server, member, tmp_path, "runs", name)
    assert isinstance(runs, list), runs
    for run in runs:
        assert {"ID", "Share ID", "Scheduled At", "State"} <= set(run), run

    policy_ok(server, member, tmp_path, "remove", "share", policy_id, share_id)
    assert policy_json(server, member, tmp_path, "show", policy_id)["share_ids"] == []
    # the share itself stays
    assert openstack_json(["share", "show", share_id], member, server.endpoint, home=tmp_path)["id"] == share_id

    policy_ok(server, member, tmp_path, "delete", name)
    gone = policy_cli(server, member, tmp_path, "show", policy_id)
    assert_clean_failure(gone, f"No backup policy with a name or ID of '{policy_id}' exists")
    assert policy_id not in [p["ID"] for p in policy_json(server, member, tmp_path, "list")]
    openstack_ok(["share", "delete", share_id], member, server.endpoint, home=tmp_path)


def test_disabled_policy_and_enable(server, member, tmp_path):
    name = unique("off")
    created = policy_json(server, member, tmp_path, "create", name, "--schedule", "0 4 * * *", "--disable",
                          "--keep-last", "1")
    assert created["enabled"] is False, created
    policy_ok(server, member, tmp_path, "set", name, "--enable", "--name", name + "-on")
    shown = policy_json(server, member, tmp_path, "show", name + "-on")
    assert shown["enabled"] is True and shown["id"] == created["id"], shown
    policy_ok(server, member, tmp_path, "delete", created["id"])


# -- errors ------------------------------------------------------------------------------------------

def test_bad_cron_shows_the_servers_message(server, member, tmp_path):
    bad = "every night at two"
    status, fault = raw_create(server, member, {"backup_policy": {
        "name": unique("raw"), "schedule": bad, "retention": {"keep_daily": 1}}})
    assert status == 400 and "badRequest" in fault, (status, fault)
    message = fault["badRequest"]["message"]

    result = policy_cli(server, member, tmp_path, "create", unique("badcron"), "--schedule", bad, "--keep-daily", "1")
    assert_clean_failure(result, message)
    assert result.stdout.strip() == "", describe(result)


def test_unknown_policy_and_share(server, member, tmp_path):
    missing = policy_cli(server, member, tmp_path, "show", "no-such-policy")
    assert_clean_failure(missing, "No backup policy with a name or ID of 'no-such-policy' exists")
    name = unique("unk")
    policy_json(server, member, tmp_path, "create", name, "--schedule", "0 2 * * *", "--keep-daily", "1")
    not_attached = policy_cli(server, member, tmp_path, "remove", "share", name, str(uuid.uuid4()), json_output=False)
    assert not_attached.returncode == 1 and "Traceback" not in not_attached.stderr, describe(not_attached)
    deleted = policy_cli(server, member, tmp_path, "delete", "no-such-policy", name, json_output=False)
    assert_clean_failure(deleted, "no-such-policy", "1 of 2 backup policies failed to delete")
    assert name not in [p["Name"] for p in policy_json(server, member, tmp_path, "list")]


# -- projects ----------------------------------------------------------------------------------------

def test_another_project_cannot_see_the_policy(server, member, other_member, tmp_path):
    name = unique("private")
    created = policy_json(server, member, tmp_path, "create", name, "--schedule", "0 2 * * *", "--keep-daily", "7")
    theirs = policy_json(server, other_member, tmp_path, "list")
    assert created["id"] not in [p["ID"] for p in theirs], theirs
    for ident in (created["id"], name):
        result = policy_cli(server, other_member, tmp_path, "show", ident)
        assert_clean_failure(result, f"No backup policy with a name or ID of '{ident}' exists")
    refused = policy_cli(server, other_member, tmp_path, "delete", created["id"], json_output=False)
    assert refused.returncode == 1, describe(refused)
    refused = policy_cli(server, other_member, tmp_path, "set", created["id"], "--keep-daily", "1",
                         json_output=False)
    assert refused.returncode == 1, describe(refused)
    # untouched, and an admin sees it among all projects
    assert policy_json(server, member, tmp_path, "show", name)["retention"]["keep_daily"] == 7
    everyone = policy_json(server, server.admin_token, tmp_path, "list", "--all-projects")
    assert {"ID": created["id"], "Project ID": "alpha"} in [
        {"ID": p["ID"], "Project ID": p.get("Project ID")} for p in everyone], everyone
    policy_ok(server, member, tmp_path, "delete", created["id"])


def test_list_pages(server, tmp_path):
    token = server.create_token(unique("pages"), "pat", ("member",))
    ids = {policy_json(server, token, tmp_path, "create", unique("pg"), "--schedule", "0 2 * * *",
                       "--keep-last", "1")["id"] for _ in range(3)}
    assert {p["ID"] for p in policy_json(server, token, tmp_path, "list")} == ids
    first = policy_json(server, token, tmp_path, "list", "--limit", "1")
    assert len(first) == 1 and first[0]["ID"] in ids, first
    rest = policy_json(server, token, tmp_path, "list", "--marker", first[0]["ID"])
    assert {p["ID"] for p in rest} == ids - {first[0]["ID"]}, rest


# -- manilaclient's own `share backup ...` still answers next to ours ------------------------------

def test_manilaclients_share_backup_commands_still_work(server, member, tmp_path):
    backups = openstack_json(["share", "backup", "list"], member, server.endpoint, home=tmp_path)
    assert isinstance(backups, list), backups
    helped = run_openstack(["help", "share", "backup", "create"], member, server.endpoint, home=tmp_path,
                           json_output=False)
    assert helped.returncode == 0 and "<share>" in helped.stdout, describe(helped)
