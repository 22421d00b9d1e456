"""The real `openstack` CLI (python-openstackclient + the manilaclient plugin) against a real
`sharebackup serve` process, authenticated with tokens from `sharebackup token create`.

Each test is self-contained (its own names), so xdist may spread them over workers; each worker
starts its own server on its own port and state directory.
"""
from __future__ import annotations

import json
import re
import shlex
import subprocess

import pytest

from tests.integration.server_process import (member, other_member, unique,  # noqa: F401
                                              ServerProcess, describe, find_executable, isolated_env,
                                              openstack_json, openstack_ok, run_openstack, server,  # noqa: F401
                                              wait_for)

WAIT = 30.0  # seconds a share or snapshot may take to become available or go away


def _show(server, token, home, kind: str, ident: str) -> dict | None:
    """`openstack share [snapshot] show ID -f json`, or None when it is gone."""
    args = ["share", "show", ident] if kind == "share" else ["share", "snapshot", "show", ident]
    result = run_openstack(args, token, server.endpoint, home=home)
    if result.returncode != 0:
        # the CLI's lookup helper says this (and nothing else) when the resource is gone
        assert re.search(r"No \w+ with a name or ID of '[^']+' exists", result.stderr), describe(result)
        return None
    return json.loads(result.stdout)


def _status(server, token, home, kind: str, ident: str) -> str | None:
    shown = _show(server, token, home, kind, ident)
    return shown and shown["status"]


def wait_status(server, token, home, kind, ident, wanted="available") -> dict:
    """Poll `show ID` until the status is `wanted`; return that last `show` output."""
    def check():
        shown = _show(server, token, home, kind, ident)
        assert shown is not None, f"{kind} {ident} disappeared while waiting for {wanted}"
        assert "error" not in shown["status"], f"{kind} {ident} went to {shown['status']}"
        return shown["status"] == wanted and shown
    return wait_for(check, timeout=WAIT, interval=0.2, what=f"{kind} {ident} to be {wanted}")


def wait_gone(server, token, home, kind, ident):
    def check():
        status = _status(server, token, home, kind, ident)
        if status is not None:
            assert "error" not in status, f"{kind} {ident} went to {status} while deleting"
        return status is None
    wait_for(check, timeout=WAIT, interval=0.2, what=f"{kind} {ident} to be deleted")


# -- the harness itself, against what already works ---------------------------------------------

def test_availability_zone_list(server, member, tmp_path):
    zones = openstack_json(["share", "availability", "zone", "list"], member, server.endpoint, home=tmp_path)
    assert [z["Name"] for z in zones] == ["nova"], zones
    # nothing the CLI wrote escaped the isolated HOME
    assert (tmp_path / ".cache").exists()


def test_bad_token_is_refused(server, tmp_path):
    result = run_openstack(["share", "availability", "zone", "list"], "not-a-token", server.endpoint,
                           home=tmp_path)
    assert result.returncode != 0, describe(result)
    assert "401" in result.stderr, describe(result)


def test_server_prints_admin_token_and_share_list_line(tmp_path):
    """What `make run` prints on a fresh state directory: the admin token on its own line after
    "Admin token", and a ready-to-paste `openstack ... share list` line that works as printed."""
    state = tmp_path / "state"
    with ServerProcess(state, auth=None) as srv:  # no --auth: tokens is the default, as in `make run`
        token = srv.admin_token
        line = srv.try_line
        assert len(token) >= 32 and " " not in token, token
        argv = shlex.split(line)
        assert argv[0] == "openstack", line
        assert argv[argv.index("--os-auth-type") + 1] == "admin_token", line
        assert argv[argv.index("--os-endpoint") + 1] == srv.endpoint, line
        assert argv[argv.index("--os-token") + 1] == token, line
        assert argv[-2:] == ["share", "list"], line
        # paste it (with our executable, isolated HOME and JSON output)
        pasted = subprocess.run([find_executable("openstack")] + argv[1:] + ["-f", "json"], cwd=tmp_path,
                                env=isolated_env(tmp_path / "home"), capture_output=True, text=True,
                                timeout=60, stdin=subprocess.DEVNULL)
        assert pasted.returncode == 0, describe(pasted)
        assert pasted.stdout.strip().startswith("["), describe(pasted)
    assert srv.returncode == 0
    # a second start on the same state directory does not mint another admin token
    with ServerProcess(state, auth=None) as again:
        again.wait_for_output(lambda lines: any(l.startswith("sharebackup serving") for l in lines))
        assert not any(l.startswith("Admin token") for l in again.stdout_lines), again.stdout_lines
        assert token not in "\n".join(again.stdout_lines)
        # the first token still works
        zones = openstack_json(["share", "availability", "zone", "list"], token, again.endpoint,
                               home=tmp_path / "home")
        assert zones and zones[0]["Name"] == "nova"


# -- share types (admin) -------------------------------------------------------------------------

def test_share_type_create_list_show_delete(server, member, tmp_path):
    admin = server.admin_token
    name = unique("mytype")
    created = openstack_json(["share", "type", "create", name, "false", "--snapshot-support", "true"],
                             admin, server.endpoint, home=tmp_path)
    assert created["name"] == name, created
    assert created["id"], created
    assert created["visibility"] == "public", created
    assert str(created["required_extra_specs"]["driver_handles_share_servers"]).lower() == "false", created
    assert str(created["optional_extra_specs"]["snapshot_support"]).lower() == "true", created

    listed = openstack_json(["share", "type", "list"], admin, server.endpoint, home=tmp_path)
    by_name = {t["Name"]: t for t in listed}
    assert name in by_name, listed
    assert by_name[name]["ID"] == created["id"], listed
    assert "default" in by_name, listed  # created at first start
    assert str(by_name["default"]["Is Default"]).lower() == "true", listed

    # a member sees public types too
    member_listed = openstack_json(["share", "type", "list"], member, server.endpoint, home=tmp_path)
    assert name in {t["Name"] for t in member_listed}, member_listed

    for ident in (created["id"], name):
        shown = openstack_json(["share", "type", "show", ident], admin, server.endpoint, home=tmp_path)
        assert shown["id"] == created["id"], shown
        assert shown["name"] == name, shown
        assert str(shown["optional_extra_specs"]["snapshot_support"]).lower() == "true", shown

    # a member may not create or delete types
    denied = run_openstack(["share", "type", "create", unique("nope"), "false"], member, server.endpoint,
                           home=tmp_path)
    assert denied.returncode != 0, describe(denied)
    assert "403" in denied.stderr, describe(denied)

    openstack_ok(["share", "type", "delete", name], admin, server.endpoint, home=tmp_path)
    gone = run_openstack(["share", "type", "show", created["id"]], admin, server.endpoint, home=tmp_path)
    assert gone.returncode != 0, describe(gone)
    listed = openstack_json(["share", "type", "list"], admin, server.endpoint, home=tmp_path)
    assert name not in {t["Name"] for t in listed}, listed


# -- shares and snapshots (a member of project alpha) --------------------------------------------

def test_share_lifecycle(server, member, tmp_path):
    ep, home = server.endpoint, tmp_path
    name = unique("s1")
    created = openstack_json(["share", "create", "NFS", "1", "--name", name], member, ep, home=home)
    share_id = created["id"]
    assert created["name"] == name, created
    assert created["size"] == 1, created
    assert created["share_proto"] == "NFS", created
    assert created["status"] in ("creating", "available"), created
    by_id = wait_status(server, member, home, "share", share_id)  # `share show ID` until available

    listed = openstack_json(["share", "list"], member, ep, home=home)
    row = next((s for s in listed if s["ID"] == share_id), None)
    assert row is not None, listed
    assert row["Name"] == name and row["Status"] == "available" and row["Size"] == 1, row
    assert row["Share Type Name"] == "default", row

    by_name = openstack_json(["share", "show", name], member, ep, home=home)
    assert by_id["id"] == by_name["id"] == share_id, (by_id, by_name)
    assert by_id["status"] == "available", by_id
    assert by_id["share_type_name"] == "default", by_id
    assert by_id["project_id"] == "alpha", by_id

    # `openstack share set` (manilaclient 6.3.0) always follows the update with a
    # `reset_task_state` action (admin-only in Manila): as admin the whole command must succeed;
    # as a member the rename applies and only that trailing action may be refused (403).
    renamed = unique("s1-renamed")
    openstack_ok(["share", "set", share_id, "--name", renamed, "--description", "renamed by the CLI"],
                 server.admin_token, ep, home=home)
    shown = openstack_json(["share", "show", renamed], member, ep, home=home)
    assert shown["id"] == share_id and shown["name"] == renamed, shown
    assert shown["description"] == "renamed by the CLI", shown
    member_set = run_openstack(["share", "set", renamed, "--description", "set by the member"], member, ep,
                               home=home, json_output=False)
    assert "Failed to update share display name" not in member_set.stderr, describe(member_set)
    if member_set.returncode != 0:
        assert "task state" in member_set.stderr and "403" in member_set.stderr, describe(member_set)
    shown = openstack_json(["share", "show", share_id], member, ep, home=home)
    assert shown["description"] == "set by the member", shown

    exports = openstack_json(["share", "export", "location", "list", share_id], member, ep, home=home)
    assert exports, "no export locations"
    assert all(e["ID"] and e["Path"] for e in exports), exports

    openstack_ok(["share", "delete", share_id], member, ep, home=home)
    wait_gone(server, member, home, "share", share_id)
    listed = openstack_json(["share", "list"], member, ep, home=home)
    assert share_id not in {s["ID"] for s in listed}, listed


def test_snapshot_lifecycle(server, member, tmp_path):
    ep, home = server.endpoint, tmp_path
    share_name = unique("s1")
    share_id = openstack_json(["share", "create", "NFS", "1", "--name", share_name], member, ep,
                              home=home)["id"]
    wait_status(server, member, home, "share", share_id)

    snap_name = unique("snap1")
    snap = openstack_json(["share", "snapshot", "create", share_name, "--name", snap_name], member, ep,
                          home=home)
    snap_id = snap["id"]
    assert snap["share_id"] == share_id, snap
    assert snap["name"] == snap_name, snap
    assert snap["status"] in ("creating", "available"), snap
    wait_status(server, member, home, "snapshot", snap_id)  # `share snapshot show ID`
    snaps = openstack_json(["share", "snapshot", "list"], member, ep, home=home)
    assert {"ID": snap_id, "Name": snap_name} in snaps, snaps
    snap_shown = openstack_json(["share", "snapshot", "show", snap_name], member, ep, home=home)
    assert snap_shown["id"] == snap_id and snap_shown["share_id"] == share_id, snap_shown
    assert snap_shown["size"] == 1 and snap_shown["status"] == "available", snap_shown

    openstack_ok(["share", "snapshot", "delete", snap_id], member, ep, home=home)
    wait_gone(server, member, home, "snapshot", snap_id)
    # Manila refuses to delete a share that still has snapshots: this passes only if it is gone
    openstack_ok(["share", "delete", share_id], member, ep, home=home)
    wait_gone(server, member, home, "share", share_id)


def test_member_cannot_see_another_projects_share(server, member, other_member, tmp_path):
    ep, home = server.endpoint, tmp_path
    name = unique("private")
    created = openstack_json(["share", "create", "NFS", "1", "--name", name], member, ep, home=home)
    share_id = created["id"]
    wait_status(server, member, home, "share", share_id)

    for ident in (share_id, name):
        result = run_openstack(["share", "show", ident], other_member, ep, home=home)
        assert result.returncode != 0, describe(result)
        assert share_id not in result.stdout, describe(result)
        assert re.search(r"No share with a name or ID of '[^']+' exists", result.stderr), describe(result)
    listed = openstack_json(["share", "list"], other_member, ep, home=home)
    assert share_id not in {s["ID"] for s in listed}, listed
    # --all-projects is admin only: for a member it must not reveal alpha's share either
    listed_all = run_openstack(["share", "list", "--all-projects"], other_member, ep, home=home)
    if listed_all.returncode == 0:
        assert share_id not in listed_all.stdout, describe(listed_all)
    denied = run_openstack(["share", "delete", share_id], other_member, ep, home=home, json_output=False)
    assert denied.returncode != 0, describe(denied)
    assert _status(server, member, home, "share", share_id) == "available"

    # the admin sees it with --all-projects
    admin_all = openstack_json(["share", "list", "--all-projects"], server.admin_token, ep, home=home)
    assert share_id in {s["ID"] for s in admin_all}, admin_all
    openstack_ok(["share", "delete", share_id], member, ep, home=home)
    wait_gone(server, member, home, "share", share_id)
