"""`openstack share backup file list|show|get` and `restore-files` (sharebackup/osc/v1/backup_files.py)
without a server: which requests their arguments make, how names are looked up in Manila's API, how
a download is streamed and where it goes, and that every command is registered."""
from __future__ import annotations

import importlib.metadata
import io
import json
from types import SimpleNamespace

import pytest
import requests
from osc_lib import exceptions
from osc_lib.command import command

from sharebackup.osc import client as osc_client
from sharebackup.osc.v1 import backup_files as cmds

ENDPOINT = "http://h:8786/sharebackup/v1"
MANILA = "http://h:8786/v2"
BID = "11111111-2222-3333-4444-555555555555"
SID = "99999999-8888-7777-6666-555555555555"
BACKUP = {"share_backup": {"id": BID, "name": "nightly", "status": "available"}}
COMMANDS = {
    "share_backup_file_list": "ListBackupFile",
    "share_backup_file_show": "ShowBackupFile",
    "share_backup_file_get": "GetBackupFile",
    "share_backup_restore-files": "RestoreBackupFiles",
}


class FakeResponse:
    def __init__(self, status, body=None, chunks=None, headers=None):
        self.status_code = status
        self.chunks = chunks
        self.content = json.dumps(body).encode() if body is not None else b""
        self.headers = headers or {}
        self.closed = False

    def json(self):
        return json.loads(self.content)

    def iter_content(self, chunk_size):
        self.chunk_size = chunk_size
        for chunk in self.chunks:
            if isinstance(chunk, Exception):
                raise chunk
            yield chunk

    def close(self):
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FakeSession:
    """Answers in order from `answers` (FakeResponse, or (status, body)) and records each request."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = []
        self.responses = []

    def request(self, url, method, **kwargs):
        assert kwargs.pop("raise_exc") is False
        self.calls.append(SimpleNamespace(method=method, url=url, **{
            k: kwargs.get(k) for k in ("params", "json", "headers", "stream")}))
        answer = self.answers.pop(0)
        response = answer if isinstance(answer, FakeResponse) else FakeResponse(*answer)
        self.responses.append(response)
        return response


def not_found(message="No backup exists with ID x."):
    return 404, {"itemNotFound": {"code": 404, "message": message}}


def run(cls, argv, answers, tmp_path=None, monkeypatch=None):
    """(take_action's result, the session, the app's stdout) for `argv` against `answers`."""
    session = FakeSession(answers)
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    manager = SimpleNamespace(sharebackup=osc_client.Client(session, ENDPOINT + "/"))
    cmd = cls(SimpleNamespace(client_manager=manager, stdout=stdout), None)
    if monkeypatch is not None:
        monkeypatch.setattr(cmds.plugin, "manila_endpoint", lambda instance: MANILA)
    if tmp_path is not None:
        monkeypatch.chdir(tmp_path)
    parsed = cmd.get_parser("openstack share backup").parse_args(argv)
    return cmd.take_action(parsed), session, stdout


def parse(cls, argv):
    return cls(None, None).get_parser("openstack share backup").parse_args(argv)


# -- list ---------------------------------------------------------------------------------------------------

ENTRIES = [
    {"path": "/docs", "name": "docs", "type": "dir", "size": 0, "mode": 0o755, "mtime": "2020-09-13T12:26:40Z"},
    {"path": "/a.txt", "name": "a.txt", "type": "file", "size": 6, "mode": 0o640, "mtime": "2020-09-13T12:26:40Z"},
    {"path": "/l", "name": "l", "type": "symlink", "size": 0, "mode": 0o777, "mtime": None, "target": "a.txt"},
]


def test_list_follows_the_next_links_markers():
    link = {"rel": "next", "href": f"/sharebackup/v1/share-backups/{BID}/files?path=%2Fd&limit=1000&marker=a.txt"}
    (headings, rows), session, _ = run(cmds.ListBackupFile, [BID, "--path", "/d"], [
        (200, BACKUP), (200, {"files": ENTRIES[:2], "files_links": [link]}), (200, {"files": ENTRIES[2:]})])
    assert headings == ("Name", "Type", "Size", "Mode", "Modified", "Target")
    rows = list(rows)
    assert [r[0] for r in rows] == ["docs", "a.txt", "l"]
    assert [(c.method, c.url, c.params) for c in session.calls] == [
        ("GET", f"{ENDPOINT}/share-backups/{BID}", None),
        ("GET", f"{ENDPOINT}/share-backups/{BID}/files", {"path": "/d"}),
        ("GET", f"{ENDPOINT}/share-backups/{BID}/files", {"path": "/d", "marker": "a.txt"})]
    assert rows[2][5] == "a.txt" and rows[1][5] is None


def test_list_with_a_limit_is_one_page_and_defaults_to_the_root():
    link = {"rel": "next", "href": "/x/files?marker=docs"}
    _, session, _ = run(cmds.ListBackupFile, [BID, "--limit", "1"], [
        (200, BACKUP), (200, {"files": ENTRIES[:1], "files_links": [link]})])
    assert session.calls[1].params == {"path": "/", "limit": 1} and len(session.calls) == 2


@pytest.mark.parametrize("argv", [["b", "--limit", "0"], ["b", "--limit", "x"], []])
def test_list_refuses_bad_arguments(argv):
    with pytest.raises(SystemExit):
        parse(cmds.ListBackupFile, argv)


@pytest.mark.parametrize("entry, human, machine", [
    (ENTRIES[0], "drwxr-xr-x", "0755"), (ENTRIES[1], "-rw-r-----", "0640"), (ENTRIES[2], "lrwxrwxrwx", "0777"),
    ({"type": "other", "mode": 0o4755}, "?rwsr-xr-x", "4755"), ({"type": "file", "mode": None}, "", None),
])
def test_mode_is_ls_style_in_tables_and_octal_in_json(entry, human, machine):
    column = cmds._value(entry, "mode")
    assert column.human_readable() == human and column.machine_readable() == machine


# -- names ---------------------------------------------------------------------------------------------------

def test_a_backup_name_is_looked_up_in_manilas_list(monkeypatch):
    listed = {"share_backups": [{"id": "other", "name": "nightly-2"}, {"id": BID, "name": "nightly"}]}
    _, session, _ = run(cmds.ShowBackupFile, ["nightly", "/a.txt"], [
        not_found(), (200, listed), (200, BACKUP), (200, {"file": ENTRIES[1]})], monkeypatch=monkeypatch)
    lookup = session.calls[1]
    assert (lookup.url, lookup.params) == (f"{MANILA}/share-backups", {"name": "nightly"})
    assert lookup.headers["X-OpenStack-Manila-API-Version"] == "2.80"
    assert session.calls[2].url == f"{ENDPOINT}/share-backups/{BID}"
    assert (session.calls[3].url, session.calls[3].params) == (f"{ENDPOINT}/share-backups/{BID}/files/stat",
                                                               {"path": "/a.txt"})


@pytest.mark.parametrize("listed, message", [
    ([], "No share backup with a name or ID of 'nightly' exists"),
    ([{"id": "a", "name": "nightly"}, {"id": "b", "name": "nightly"}], "More than one share backup"),
    ([{"id": "a", "name": "nightly-old"}], "No share backup with a name or ID of 'nightly' exists"),
])
def test_unknown_or_ambiguous_backup_names(monkeypatch, listed, message):
    with pytest.raises(exceptions.CommandError, match=message):
        run(cmds.ListBackupFile, ["nightly"], [not_found(), (200, {"share_backups": listed})],
            monkeypatch=monkeypatch)


def test_other_errors_of_the_backup_lookup_are_not_name_lookups():
    with pytest.raises(exceptions.CommandError, match="denied"):
        run(cmds.ListBackupFile, [BID], [(403, {"forbidden": {"code": 403, "message": "denied"}})])


def test_server_messages_become_command_errors():
    fault = {"badRequest": {"code": 400, "message": "Invalid path '/../etc': '.' and '..' are not allowed"}}
    with pytest.raises(exceptions.CommandError, match="are not allowed") as caught:
        run(cmds.ListBackupFile, [BID, "--path", "/../etc"], [(200, BACKUP), (400, fault)])
    assert caught.value.status == 400


# -- show ----------------------------------------------------------------------------------------------------

def test_show_has_every_field_sorted():
    (columns, values), session, _ = run(cmds.ShowBackupFile, [BID, "/l"], [(200, BACKUP), (200, {"file": ENTRIES[2]})])
    assert columns == ("mode", "mtime", "name", "path", "size", "target", "type")
    shown = dict(zip(columns, values))
    assert shown["mode"].human_readable() == "lrwxrwxrwx" and shown["target"] == "a.txt"


# -- get -----------------------------------------------------------------------------------------------------

def content(*chunks, headers=None):
    return FakeResponse(200, chunks=list(chunks), headers=headers or {})


def test_get_streams_into_the_files_own_name(tmp_path, monkeypatch):
    answer = content(b"hel", b"lo\n", headers={"Content-Length": "6"})
    result, session, stdout = run(cmds.GetBackupFile, [BID, "/docs/a.txt"], [(200, BACKUP), answer],
                                  tmp_path, monkeypatch)
    assert result is None and (tmp_path / "a.txt").read_bytes() == b"hello\n"
    call = session.calls[1]
    assert (call.url, call.params, call.stream) == (f"{ENDPOINT}/share-backups/{BID}/content",
                                                    {"path": "/docs/a.txt"}, True)
    assert answer.closed and answer.chunk_size == osc_client.CHUNK
    stdout.flush()
    assert stdout.buffer.getvalue() == b""


def test_get_to_a_named_file_and_to_stdout(tmp_path, monkeypatch):
    (tmp_path / "out").mkdir()
    run(cmds.GetBackupFile, [BID, "/a.txt", "--file", "out/x.bin"], [(200, BACKUP), content(b"\x00\xff")],
        tmp_path, monkeypatch)
    assert (tmp_path / "out" / "x.bin").read_bytes() == b"\x00\xff"
    _, _, stdout = run(cmds.GetBackupFile, [BID, "/a.txt", "--file", "-"], [(200, BACKUP), content(b"\x00", b"z")],
                       tmp_path, monkeypatch)
    assert stdout.buffer.getvalue() == b"\x00z"


def test_get_refuses_to_overwrite_unless_forced(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_bytes(b"mine")
    with pytest.raises(exceptions.CommandError, match="'a.txt' exists; give --force"):
        run(cmds.GetBackupFile, [BID, "/a.txt"], [], tmp_path, monkeypatch)
    assert (tmp_path / "a.txt").read_bytes() == b"mine"
    run(cmds.GetBackupFile, [BID, "/a.txt", "--force"], [(200, BACKUP), content(b"new")], tmp_path, monkeypatch)
    assert (tmp_path / "a.txt").read_bytes() == b"new"


def test_get_an_error_answer_leaves_no_file(tmp_path, monkeypatch):
    fault = {"badRequest": {"code": 400, "message": "/docs is a dir: only a file has content"}}
    with pytest.raises(exceptions.CommandError, match="only a file has content"):
        run(cmds.GetBackupFile, [BID, "/docs"], [(200, BACKUP), (400, fault)], tmp_path, monkeypatch)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("chunks, headers, message", [
    ([b"abc", requests.exceptions.ChunkedEncodingError("reset")], {}, "broke off after 3 bytes"),
    ([b"abc"], {"Content-Length": "10"}, "broke off after 3 of 10 bytes"),
])
def test_get_a_broken_download_removes_the_partial_file(tmp_path, monkeypatch, chunks, headers, message):
    with pytest.raises(exceptions.CommandError, match=message):
        run(cmds.GetBackupFile, [BID, "/a.txt"], [(200, BACKUP), content(*chunks, headers=headers)],
            tmp_path, monkeypatch)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", ["/", "/docs/..", ""])
def test_get_of_a_path_without_a_name_needs_file(path):
    with pytest.raises(exceptions.CommandError, match="give --file"):
        cmds.default_output(path)


# -- restore-files -------------------------------------------------------------------------------------------

RESTORED = {"restore": {"backup_id": BID, "share_id": SID, "paths": ["/a", "/b"], "mode": "merge",
                        "target_path": "/"}}


@pytest.mark.parametrize("argv, body", [
    (["--path", "/a"], {"paths": ["/a"], "mode": "merge"}),
    (["--path", "/a", "--path", "/b", "--replace", "--target-path", "/into"],
     {"paths": ["/a", "/b"], "mode": "replace", "target_path": "/into"}),
])
def test_restore_bodies(argv, body):
    (columns, values), session, _ = run(cmds.RestoreBackupFiles, [BID, *argv], [(200, BACKUP), (202, RESTORED)])
    call = session.calls[1]
    assert (call.method, call.url, call.json) == ("POST", f"{ENDPOINT}/share-backups/{BID}/restore", {"restore": body})
    shown = dict(zip(columns, values))
    assert columns == ("backup_id", "mode", "paths", "share_id", "target_path")
    assert shown["paths"].machine_readable() == ["/a", "/b"] and shown["share_id"] == SID


def test_restore_into_a_share_named_or_by_id(monkeypatch):
    shares = {"shares": [{"id": SID, "name": "target"}]}
    _, session, _ = run(cmds.RestoreBackupFiles, [BID, "--path", "/a", "--target-share", "target"], [
        (200, BACKUP), not_found("share"), (200, shares), (202, RESTORED)], monkeypatch=monkeypatch)
    assert [c.url for c in session.calls[1:3]] == [f"{MANILA}/shares/target", f"{MANILA}/shares"]
    assert session.calls[2].params == {"name": "target"}
    assert session.calls[3].json["restore"]["target_share_id"] == SID
    _, session, _ = run(cmds.RestoreBackupFiles, [BID, "--path", "/a", "--target-share", SID], [
        (200, BACKUP), (200, {"share": {"id": SID}}), (202, RESTORED)], monkeypatch=monkeypatch)
    assert session.calls[2].json["restore"]["target_share_id"] == SID


def test_restore_needs_a_path():
    with pytest.raises(SystemExit):
        parse(cmds.RestoreBackupFiles, [BID])


# -- registration --------------------------------------------------------------------------------------------

def test_every_command_is_an_entry_point():
    found = {ep.name: ep for ep in importlib.metadata.entry_points(group="openstack.sharebackup.v1")}
    for name, cls in COMMANDS.items():
        assert found[name].value == f"sharebackup.osc.v1.backup_files:{cls}"
        loaded = found[name].load()
        assert issubclass(loaded, command.Command) and loaded.__doc__


def test_no_clash_with_manilaclients_commands():
    manilas = {ep.name for ep in importlib.metadata.entry_points(group="openstack.share.v2")}
    assert "share_backup_restore" in manilas
    assert not set(COMMANDS) & manilas
