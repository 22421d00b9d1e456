"""A share backup's whole life through the real clients, checked on the share's files.

`sharebackup serve` (tokens auth) runs as a process. The `openstack` CLI creates a share; the
test writes a tree into the share's directory (its export location is the local path): nested
directories, an empty directory, a relative and a dangling symlink, a hard-link pair, an empty
file, a 5 MB random file, odd modes and old mtimes. Then, all with the real CLI:

  share backup create / show (until available) / list / list --detail / set / unset,
  damage the tree (modify, truncate, chmod, delete, re-point a symlink, break the hard link,
  add files), share backup restore --wait, and compare the tree with the one backed up: byte
  for byte, type, mode, owner, mtime_ns, symlink target, hard-link grouping. Restore merges:
  the files added after the backup stay.

A second backup of the unchanged tree must be incremental: the repository grows by a small
fraction of what the first backup added. python-manilaclient at 2.91 restores the first backup
into a second, new share (`share_backups.restore(backup, target_share_id)`), whose tree must
equal the original exactly. Finally `share backup delete --wait` and the backup is 404.

Run with `-s` to see the comparison lines.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.integration.server_process import (describe, isolated_home, openstack_json,  # noqa: F401
                                              openstack_ok, run_openstack, server, wait_for)

pytestmark = pytest.mark.slow

WAIT = 90.0       # seconds a share or backup may take to become available, or a restore to finish
BIG = 5 * 1024 * 1024
OLD = 1_600_000_000_123_456_789   # an mtime (ns) nobody would produce by accident


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# -- the tree ------------------------------------------------------------------------------------

def populate(root: Path) -> None:
    """Write the test tree into `root` (the share's directory)."""
    rnd = os.urandom
    (root / "docs" / "nested" / "deeper").mkdir(parents=True)
    (root / "empty-dir").mkdir()
    (root / "data").mkdir()
    (root / "docs" / "readme.txt").write_text("hello from the share\n" * 50)
    (root / "docs" / "nested" / "notes.md").write_text("# notes\n" + "line\n" * 1000)
    (root / "docs" / "nested" / "deeper" / "leaf.bin").write_bytes(rnd(70_000))
    (root / "empty-file").write_bytes(b"")
    (root / "data" / "big.bin").write_bytes(rnd(BIG))
    (root / "data" / "compressible.txt").write_bytes(b"abcdefgh" * 100_000)
    (root / "data" / "hard-a").write_bytes(rnd(12_345))
    os.link(root / "data" / "hard-a", root / "data" / "hard-b")
    os.symlink("../docs/readme.txt", root / "data" / "link-to-readme")
    os.symlink("does/not/exist", root / "dangling-link")
    secret = root / "docs" / "secret.txt"
    secret.write_text("private\n")
    os.chmod(secret, 0o600)
    script = root / "data" / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    os.chmod(script, 0o755)
    os.chmod(root / "empty-dir", 0o750)
    # old, distinctive mtimes (files first, then the directories that contain them)
    for i, path in enumerate(sorted(root.rglob("*"), key=lambda p: -len(p.parts))):
        os.utime(path, ns=(OLD + i, OLD + i * 1_000_001), follow_symlinks=False)


def snapshot_tree(root: Path) -> dict[str, dict]:
    """Every entry below `root` (not root itself): type, mode, owner, mtime_ns, size, sha256,
    symlink target, and hard-link group (the first path, in sorted order, of the inode)."""
    out: dict[str, dict] = {}
    first_of_inode: dict[tuple[int, int], str] = {}
    paths = sorted(p for p in root.rglob("*"))
    for path in paths:
        rel = str(path.relative_to(root))
        st = os.lstat(path)
        entry = {"type": stat.filemode(st.st_mode)[0], "mode": oct(stat.S_IMODE(st.st_mode)),
                 "uid": st.st_uid, "gid": st.st_gid, "mtime_ns": st.st_mtime_ns}
        if stat.S_ISLNK(st.st_mode):
            entry["target"] = os.readlink(path)
        elif stat.S_ISREG(st.st_mode):
            entry["size"] = st.st_size
            entry["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
            entry["link_group"] = first_of_inode.setdefault((st.st_dev, st.st_ino), rel)
            entry["nlink"] = st.st_nlink
        out[rel] = entry
    return out


def compare(expected: dict[str, dict], actual: dict[str, dict], *, allowed_extra: set[str] = frozenset(),
            label: str) -> str:
    """Assert `actual` equals `expected` (plus only `allowed_extra`); return a printable summary."""
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected) - set(allowed_extra))
    differing = {rel: {k: (expected[rel].get(k), actual[rel].get(k))
                       for k in set(expected[rel]) | set(actual[rel]) if expected[rel].get(k) != actual[rel].get(k)}
                 for rel in sorted(set(expected) & set(actual)) if expected[rel] != actual[rel]}
    assert not (missing or extra or differing), (
        f"{label}: missing={missing} unexpected={extra} differing={json.dumps(differing, indent=1)}")
    kinds = {}
    for entry in expected.values():
        kinds[entry["type"]] = kinds.get(entry["type"], 0) + 1
    size = sum(e.get("size", 0) for e in expected.values())
    kept = sorted(set(actual) & set(allowed_extra))
    summary = (f"TREE COMPARISON [{label}]: IDENTICAL - {len(expected)} entries "
               f"({kinds.get('-', 0)} files, {kinds.get('d', 0)} dirs, {kinds.get('l', 0)} symlinks; "
               f"{size} bytes), compared: type, sha256 of content, size, mode, uid/gid, mtime_ns, "
               f"symlink target, hard-link group and link count"
               + (f"; kept (merge): {', '.join(kept)}" if kept else ""))
    print(summary, flush=True)
    return summary


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


# -- CLI helpers ---------------------------------------------------------------------------------

def api_get(server, token, path: str, version: str = "2.91") -> tuple[int, dict]:
    """A plain GET (for polling: one `openstack` run costs a second or more)."""
    req = urllib.request.Request(server.endpoint + path, headers={
        "X-Auth-Token": token, "Accept": "application/json", "X-OpenStack-Manila-API-Version": version,
        "X-OpenStack-Manila-API-Experimental": "True"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def wait_share(server, token, share_id, wanted="available") -> dict:
    def check():
        status, body = api_get(server, token, f"/shares/{share_id}")
        assert status == 200, (status, body)
        shown = body["share"]
        assert "error" not in shown["status"], f"share {share_id} went to {shown['status']}"
        return shown["status"] == wanted and shown
    return wait_for(check, timeout=WAIT, interval=0.2, what=f"share {share_id} to be {wanted}")


def backup_show(server, token, home, ident) -> dict:
    return openstack_json(["share", "backup", "show", ident], token, server.endpoint, home=home)


def wait_backup(server, token, home, ident, wanted="available") -> dict:
    seen: list[str] = []

    def check():
        shown = backup_show(server, token, home, ident)
        if not seen or seen[-1] != (shown["status"], shown.get("progress")):
            seen.append((shown["status"], shown.get("progress")))
        assert "error" not in shown["status"], f"backup {ident} went to {shown['status']}: {shown}"
        return shown["status"] == wanted and shown
    shown = wait_for(check, timeout=WAIT, interval=0.3, what=f"backup {ident} to be {wanted}")
    print(f"backup {ident}: (status, progress) seen while waiting: {seen}", flush=True)
    return shown


def export_path(server, token, home, share_id) -> Path:
    exports = openstack_json(["share", "export", "location", "list", share_id], token, server.endpoint,
                             home=home)
    assert exports, f"share {share_id} has no export location"
    path = Path(exports[0]["Path"])
    assert path.is_dir(), f"the export location {path} is not a local directory"
    return path


# -- the test ------------------------------------------------------------------------------------

def test_backup_lifecycle(server, tmp_path, isolated_home):
    ep, home = server.endpoint, tmp_path / "cli"
    token = server.create_token("lifecycle", "lena", ("member",))

    share_id = openstack_json(["share", "create", "NFS", "1", "--name", unique("src")], token, ep,
                              home=home)["id"]
    wait_share(server, token, share_id)
    root = export_path(server, token, home, share_id)
    populate(root)
    original = snapshot_tree(root)
    assert original["data/hard-a"]["link_group"] == original["data/hard-b"]["link_group"]
    repo = server.state_dir / "repository"
    repo_before = tree_bytes(repo) if repo.exists() else 0

    # -- create, show, list
    name = unique("b1")
    created = openstack_json(["share", "backup", "create", share_id, "--name", name], token, ep, home=home)
    backup_id = created["id"]
    assert created["share_id"] == share_id and created["name"] == name, created
    assert created["status"] == "creating", created
    shown = wait_backup(server, token, home, name)          # by name: the CLI's lookup path
    assert shown["id"] == backup_id and str(shown["progress"]) == "100", shown
    wait_share(server, token, share_id)
    repo_after_b1 = tree_bytes(repo)
    first_growth = repo_after_b1 - repo_before
    assert first_growth > 0, "the first backup wrote nothing to the repository"

    listed = openstack_json(["share", "backup", "list"], token, ep, home=home)
    row = next((b for b in listed if b["ID"] == backup_id), None)
    assert row == {"ID": backup_id, "Name": name, "Share ID": share_id, "Status": "available"}, listed
    detailed = openstack_json(["share", "backup", "list", "--detail"], token, ep, home=home)
    row = next((b for b in detailed if b["ID"] == backup_id), None)
    assert row is not None and str(row["Progress"]) == "100" and row["Size"] == 1, detailed
    assert row["Availability Zone"] == "nova" and row["Created At"], row
    filtered = openstack_json(["share", "backup", "list", "--share", share_id], token, ep, home=home)
    assert [b["ID"] for b in filtered] == [backup_id], filtered

    # -- set / unset
    openstack_ok(["share", "backup", "set", backup_id, "--name", name + "-renamed", "--description",
                  "first backup"], token, ep, home=home)
    shown = backup_show(server, token, home, backup_id)
    assert shown["name"] == name + "-renamed" and shown["description"] == "first backup", shown
    openstack_ok(["share", "backup", "unset", backup_id, "--name", "--description"], token, ep, home=home)
    shown = backup_show(server, token, home, backup_id)
    assert shown["name"] is None and shown["description"] is None, shown

    # -- damage the tree, then restore in place
    (root / "docs" / "readme.txt").write_text("overwritten\n")
    with open(root / "data" / "big.bin", "r+b") as f:
        f.seek(BIG // 2)
        f.write(b"\0" * 4096)
    os.truncate(root / "data" / "compressible.txt", 1000)
    os.chmod(root / "docs" / "secret.txt", 0o644)
    os.unlink(root / "empty-file")
    os.unlink(root / "data" / "hard-b")                    # breaks the hard link
    os.unlink(root / "data" / "link-to-readme")
    os.symlink("elsewhere", root / "data" / "link-to-readme")
    for p in sorted((root / "docs" / "nested").rglob("*"), reverse=True):
        p.rmdir() if p.is_dir() else p.unlink()
    (root / "docs" / "nested").rmdir()
    os.rmdir(root / "empty-dir")
    (root / "added-after-backup.txt").write_text("I was not in the backup\n")
    (root / "added-dir").mkdir()
    (root / "added-dir" / "new.txt").write_text("new\n")
    added = {"added-after-backup.txt", "added-dir", "added-dir/new.txt"}
    damaged = snapshot_tree(root)
    with pytest.raises(AssertionError):   # the comparison sees the damage (negative control)
        compare(original, damaged, allowed_extra=added, label="damaged tree")

    result = openstack_ok(["share", "backup", "restore", backup_id, "--wait"], token, ep, home=home,
                          timeout=WAIT + 30)
    wait_share(server, token, share_id)
    shown = wait_backup(server, token, home, backup_id)
    assert str(shown["restore_progress"]) == "100", shown
    compare(original, snapshot_tree(root), allowed_extra=added, label="restore in place, openstack CLI")
    assert (root / "added-after-backup.txt").read_text() == "I was not in the backup\n"

    # -- a second backup of the (restored) tree is incremental
    b2 = openstack_json(["share", "backup", "create", share_id, "--name", unique("b2")], token, ep,
                        home=home)["id"]
    wait_backup(server, token, home, b2)
    wait_share(server, token, share_id)
    second_growth = tree_bytes(repo) - repo_after_b1
    line = (f"INCREMENTAL: first backup added {first_growth} bytes to the repository, the second "
            f"(same tree + {sum(1 for a in added if (root / a).is_file())} small files) added {second_growth} bytes")
    print(line, flush=True)
    assert second_growth < first_growth * 0.1, line

    # -- python-manilaclient at 2.91: restore b1 into a new target share
    from keystoneauth1 import session as ks_session
    from keystoneauth1.token_endpoint import Token
    from manilaclient import client
    from manilaclient import exceptions as mc_exc
    mc = client.Client("2.91", session=ks_session.Session(auth=Token(ep, token)), service_catalog_url=ep)
    target = mc.shares.create("NFS", 1, name=unique("target"))
    wait_for(lambda: mc.shares.get(target.id).status == "available", timeout=WAIT, interval=0.3,
             what="target share available")
    target_root = export_path(server, token, home, target.id)
    assert not any(target_root.iterdir()), "a new share is not empty"
    answer = mc.share_backups.restore(backup_id, target.id)
    print(f"manilaclient restore answer: {getattr(answer, '_info', answer)}", flush=True)

    def target_done():
        status = mc.shares.get(target.id).status
        assert "error" not in status, f"target share went to {status}"
        return status == "available" and mc.share_backups.get(backup_id).status == "available"
    time.sleep(0.2)
    wait_for(target_done, timeout=WAIT, interval=0.3, what="restore into the target share")
    compare(original, snapshot_tree(target_root), label="restore to a target share, manilaclient 2.91")
    # the source share was not touched by the restore elsewhere
    compare(original, snapshot_tree(root), allowed_extra=added, label="source share after the target restore")

    # -- delete --wait, then it is gone
    openstack_ok(["share", "backup", "delete", backup_id, "--wait"], token, ep, home=home, timeout=WAIT + 30)
    gone = run_openstack(["share", "backup", "show", backup_id], token, ep, home=home)
    assert gone.returncode != 0, describe(gone)
    assert re.search(r"No sharebackup with a name or ID of '[^']+' exists", gone.stderr), describe(gone)
    assert api_get(server, token, f"/share-backups/{backup_id}")[0] == 404
    with pytest.raises(mc_exc.NotFound):
        mc.share_backups.get(backup_id)
    remaining = [b["ID"] for b in openstack_json(["share", "backup", "list"], token, ep, home=home)]
    assert remaining == [b2], remaining
    print(f"DELETED: backup {backup_id} is gone (GET -> 404); {b2} remains", flush=True)

    # leave nothing behind in this server for other tests of the module
    openstack_ok(["share", "backup", "delete", b2, "--wait"], token, ep, home=home, timeout=WAIT + 30)
    for sid in (share_id, target.id):
        openstack_ok(["share", "delete", sid], token, ep, home=home)
