"""`openstack share backup file list|show|get` and `openstack share backup restore-files` (our OSC
plugin, sharebackup/osc/v1/backup_files.py) with the real `openstack` executable against a real
`sharebackup serve`, authenticated with tokens from `sharebackup token create`.

One share of project `alpha` gets a small tree (a 5 MB random file, a subdirectory, a symlink, a
directory of 1,003 entries: more than one page of the server's listing) and is backed up once; the
read-only tests look into that backup, the restore test then changes the share and restores from it.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.integration.server_process import (member, other_member, unique,  # noqa: F401
                                              describe, openstack_json, run_openstack,  # noqa: F401
                                              server, wait_for)

# about a minute and a half of `openstack` start-ups: the scale tier (make test-scale, run by .ci/run)
pytestmark = pytest.mark.scale

WAIT = 90.0  # seconds a share or backup may take to become available, or a restore to finish
BIG = 5 * 1024 * 1024
MANY = 1003  # entries of /many: the server's listing pages hold 1,000


def cli(server, token, home, *args, json_output=True, **kwargs):
    """`openstack share backup ARGS` (never raises; the caller asserts)."""
    return run_openstack(["share", "backup", *args], token, server.endpoint, home=home, json_output=json_output,
                         **kwargs)


def cli_json(server, token, home, *args):
    return openstack_json(["share", "backup", *args], token, server.endpoint, home=home)


def cli_ok(server, token, home, *args):
    result = cli(server, token, home, *args, json_output=False)
    assert result.returncode == 0, describe(result)
    return result


def assert_clean_failure(result, *texts: str):
    """Exit code 1, the texts on stderr, and no Python traceback."""
    assert result.returncode == 1, describe(result)
    for text in texts:
        assert text in result.stderr, describe(result)
    assert "Traceback" not in result.stderr + result.stdout, describe(result)


def wait_status(server, token, home, kind: list[str], ident: str) -> dict:
    def check():
        shown = openstack_json([*kind, "show", ident], token, server.endpoint, home=home)
        assert "error" not in shown["status"], shown
        return shown["status"] == "available" and shown
    return wait_for(check, timeout=WAIT, interval=0.3, what=f"{' '.join(kind)} {ident} to be available")


def create_share(server, token, home, name: str) -> tuple[str, Path]:
    share_id = openstack_json(["share", "create", "NFS", "1", "--name", name], token, server.endpoint,
                              home=home)["id"]
    wait_status(server, token, home, ["share"], share_id)
    exports = openstack_json(["share", "export", "location", "list", share_id], token, server.endpoint, home=home)
    root = Path(exports[0]["Path"])
    assert root.is_dir(), exports
    return share_id, root


def populate(root: Path) -> dict[str, bytes]:
    files = {"top.txt": b"top of the share\n", "docs/a.txt": b"hello\n", "docs/b.txt": b"b" * 10_000,
             "sub/one.txt": b"one\n", "sub/deeper/two.txt": b"two\n", "big.bin": os.urandom(BIG)}
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    os.chmod(root / "docs" / "a.txt", 0o640)
    os.symlink("docs/a.txt", root / "link")
    (root / "many").mkdir()
    for i in range(MANY):
        (root / "many" / f"f{i:04d}").write_bytes(b"")
    return files


@pytest.fixture(scope="module")
def backed_up(server, member, tmp_path_factory):
    """A share with the tree, and an available backup of it (looked up by name)."""
    home = tmp_path_factory.mktemp("cli")
    share_name = unique("files")
    share_id, root = create_share(server, member, home, share_name)
    files = populate(root)
    name = unique("b")
    created = openstack_json(["share", "backup", "create", share_id, "--name", name], member, server.endpoint,
                             home=home)
    wait_status(server, member, home, ["share", "backup"], name)
    wait_status(server, member, home, ["share"], share_id)
    return SimpleNamespace(share_id=share_id, share_name=share_name, root=root, files=files, name=name,
                           id=created["id"], home=home)


def raw_get(server, token, path: str) -> tuple[int, dict]:
    """GET /sharebackup/v1/PATH without the CLI: the server's own answer."""
    request = urllib.request.Request(server.root + "sharebackup/v1/" + path, headers={
        "X-Auth-Token": token, "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


# -- list and show -----------------------------------------------------------------------------------

def test_file_list_root_and_subdirectory(server, member, backed_up):
    b = backed_up
    listed = cli_json(server, member, b.home, "file", "list", b.name)
    by_name = {e["Name"]: e for e in listed}
    assert set(by_name) == {"top.txt", "docs", "sub", "big.bin", "link", "many"}, listed
    assert set(listed[0]) == {"Name", "Type", "Size", "Mode", "Modified", "Target"}, listed
    assert by_name["big.bin"]["Type"] == "file" and by_name["big.bin"]["Size"] == BIG, by_name
    assert by_name["docs"]["Type"] == "dir" and by_name["link"]["Type"] == "symlink", by_name
    assert by_name["link"]["Target"] == "docs/a.txt" and by_name["top.txt"]["Target"] is None, by_name
    assert by_name["top.txt"]["Modified"].endswith("Z"), by_name

    sub = cli_json(server, member, b.home, "file", "list", b.id, "--path", "/sub")
    assert {(e["Name"], e["Type"]) for e in sub} == {("one.txt", "file"), ("deeper", "dir")}, sub
    docs = {e["Name"]: e for e in cli_json(server, member, b.home, "file", "list", b.id, "--path", "docs")}
    assert docs["a.txt"]["Mode"] == "0640" and docs["a.txt"]["Size"] == 6, docs

    table = cli(server, member, b.home, "file", "list", b.id, "--path", "/docs", json_output=False)
    assert table.returncode == 0 and "-rw-r-----" in table.stdout, describe(table)


def test_file_list_follows_pages_unless_limited(server, member, backed_up):
    b = backed_up
    status, first_page = raw_get(server, member, f"share-backups/{b.id}/files?path=/many")
    assert status == 200 and len(first_page["files"]) < MANY and first_page.get("files_links"), status
    many = cli_json(server, member, b.home, "file", "list", b.id, "--path", "/many")
    assert sorted(e["Name"] for e in many) == [f"f{i:04d}" for i in range(MANY)], len(many)
    limited = cli_json(server, member, b.home, "file", "list", b.id, "--path", "/many", "--limit", "5")
    assert [e["Name"] for e in limited] == [f"f{i:04d}" for i in range(5)], limited


def test_file_show(server, member, backed_up):
    b = backed_up
    shown = cli_json(server, member, b.home, "file", "show", b.name, "/docs/a.txt")
    assert {k: shown[k] for k in ("path", "name", "type", "size", "mode")} == {
        "path": "/docs/a.txt", "name": "a.txt", "type": "file", "size": 6, "mode": "0640"}, shown
    assert shown["mtime"].endswith("Z"), shown
    link = cli_json(server, member, b.home, "file", "show", b.id, "link")
    assert link["type"] == "symlink" and link["target"] == "docs/a.txt", link
    missing = cli(server, member, b.home, "file", "show", b.id, "/nope")
    assert_clean_failure(missing, "/nope is not in backup")


# -- get -------------------------------------------------------------------------------------------------

def test_file_get(server, member, backed_up, tmp_path):
    b = backed_up
    result = cli_ok(server, member, tmp_path, "file", "get", b.name, "/docs/b.txt", "--file", "out.txt")
    assert result.stdout == "" and (tmp_path / "out.txt").read_bytes() == b.files["docs/b.txt"], describe(result)

    cli_ok(server, member, tmp_path, "file", "get", b.id, "/big.bin")  # default: its own name, here
    assert (tmp_path / "big.bin").read_bytes() == b.files["big.bin"]

    (tmp_path / "big.bin").write_bytes(b"mine")
    refused = cli(server, member, tmp_path, "file", "get", b.id, "/big.bin", json_output=False)
    assert_clean_failure(refused, "exists", "--force")
    assert (tmp_path / "big.bin").read_bytes() == b"mine"
    cli_ok(server, member, tmp_path, "file", "get", b.id, "/big.bin", "--force")
    assert (tmp_path / "big.bin").read_bytes() == b.files["big.bin"]

    to_stdout = cli_ok(server, member, tmp_path, "file", "get", b.id, "/sub/one.txt", "--file", "-")
    assert to_stdout.stdout == "one\n", describe(to_stdout)

    directory = cli(server, member, tmp_path, "file", "get", b.id, "/sub", "--file", "sub.out", json_output=False)
    assert_clean_failure(directory, "is a dir")
    assert not (tmp_path / "sub.out").exists()


# -- errors ----------------------------------------------------------------------------------------------

def test_dotdot_path_is_refused_with_the_servers_message(server, member, backed_up, tmp_path):
    b = backed_up
    status, fault = raw_get(server, member, f"share-backups/{b.id}/files?" + urllib.parse.urlencode(
        {"path": "/../etc"}))
    assert status == 400 and "badRequest" in fault, (status, fault)
    result = cli(server, member, tmp_path, "file", "list", b.id, "--path", "/../etc")
    assert_clean_failure(result, fault["badRequest"]["message"])
    got = cli(server, member, tmp_path, "file", "get", b.id, "/../etc/passwd", json_output=False)
    assert got.returncode == 1 and "'..' are not allowed" in got.stderr, describe(got)
    assert "Traceback" not in got.stderr and not (tmp_path / "passwd").exists(), describe(got)
    restored = cli(server, member, tmp_path, "restore-files", b.id, "--path", "/../etc")
    assert_clean_failure(restored, "'..' are not allowed")


def test_another_project_cannot_look_into_the_backup(server, other_member, backed_up, tmp_path):
    b = backed_up
    for ident in (b.id, b.name):
        result = cli(server, other_member, tmp_path, "file", "list", ident)
        assert_clean_failure(result, f"No share backup with a name or ID of '{ident}' exists")
    status, _ = raw_get(server, other_member, f"share-backups/{b.id}/files")
    assert status == 404
    got = cli(server, other_member, tmp_path, "file", "get", b.id, "/big.bin", json_output=False)
    assert_clean_failure(got, "No share backup")
    assert not (tmp_path / "big.bin").exists()


def test_unknown_backup(server, member, tmp_path):
    result = cli(server, member, tmp_path, "file", "list", "no-such-backup")
    assert_clean_failure(result, "No share backup with a name or ID of 'no-such-backup' exists")


# -- restore ---------------------------------------------------------------------------------------------

def restore(server, token, b, *args) -> dict:
    answer = cli_json(server, token, b.home, "restore-files", b.name, *args)
    wait_status(server, token, b.home, ["share", "backup"], b.id)
    wait_status(server, token, b.home, ["share"], b.share_id)
    return answer


def test_restore_files_merge_replace_and_elsewhere(server, member, backed_up):
    b = backed_up
    root = b.root
    (root / "docs" / "a.txt").unlink()
    (root / "top.txt").write_bytes(b"changed after the backup\n")
    answer = restore(server, member, b, "--path", "/docs/a.txt")
    assert answer == {"backup_id": b.id, "share_id": b.share_id, "paths": ["/docs/a.txt"], "mode": "merge",
                      "target_path": "/"}, answer
    assert (root / "docs" / "a.txt").read_bytes() == b.files["docs/a.txt"]
    assert (root / "docs" / "a.txt").stat().st_mode & 0o777 == 0o640
    assert (root / "top.txt").read_bytes() == b"changed after the backup\n"

    (root / "sub" / "extra.txt").write_bytes(b"not in the backup\n")
    (root / "sub" / "one.txt").write_bytes(b"changed\n")
    (root / "extra-top.txt").write_bytes(b"outside /sub\n")
    answer = restore(server, member, b, "--path", "/sub", "--replace")
    assert answer["mode"] == "replace" and answer["paths"] == ["/sub"], answer
    assert not (root / "sub" / "extra.txt").exists()
    assert (root / "sub" / "one.txt").read_bytes() == b"one\n"
    assert (root / "sub" / "deeper" / "two.txt").read_bytes() == b"two\n"
    assert (root / "extra-top.txt").read_bytes() == b"outside /sub\n"
    assert (root / "top.txt").read_bytes() == b"changed after the backup\n"

    other_name = unique("into")
    other_id, other_root = create_share(server, member, b.home, other_name)
    answer = restore(server, member, b, "--path", "/docs", "--path", "/big.bin", "--target-share", other_name,
                     "--target-path", "/restored")
    assert answer["share_id"] == other_id and answer["target_path"] == "/restored", answer
    assert (other_root / "restored" / "docs" / "b.txt").read_bytes() == b.files["docs/b.txt"]
    assert (other_root / "restored" / "big.bin").read_bytes() == b.files["big.bin"]
    assert not (other_root / "restored" / "sub").exists()
    unknown = cli(server, member, b.home, "restore-files", b.id, "--path", "/docs", "--target-share", "no-such")
    assert_clean_failure(unknown, "No share with a name or ID of 'no-such' exists")
