"""Backup jobs end, with readable words, whatever bytes their text holds (issue 16).

A share's names are bytes and need not be UTF-8. os.fsdecode makes b"d\\xff" "d\\udcff", which
neither PostgreSQL nor SQLite will store. When engine text held such a name (its per-file reports
did, until the engine escaped them itself), the failure handler raised on writing it, and the
backup stayed creating (its share backup_creating) or the restore stayed restoring (its share
backup_restoring) for ever. Messages show such a name as d\\xff: d, backslash, x, f, f.

The first tests make the engine meet such a name for real; the later ones hand the job layer
engine text with the name still undecoded, which it must make safe on its own. Jobs are driven
without HTTP, as in test_backup_jobs.py, on SQLite and on PostgreSQL.
"""
from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import select

from sharebackup import engine
from sharebackup.db.models import Job, Share, ShareBackup
from sharebackup.workflows import backup_jobs, backup_repository
from sharebackup.workflows.backup_jobs import CREATE, DELETE, RESTORE
from sharebackup.queue.lease_queue import FAILED, LeaseQueue, enqueue
from sharebackup.queue.worker_pool import WorkerPool
from sharebackup.services import messages
from tests.unit.test_backup_jobs import _backup, _create, _get, _give_up, _messages, _restore, _run, _share

NAME = b"d\xff"  # a directory name that is not UTF-8
SHOWN = "d\\xff"  # how a message shows it


def _readable(text: str) -> str:
    text.encode("utf-8")  # strict: a lone surrogate raises here
    assert "\\udc" not in text  # nor is it shown as Python's escape of one
    return text


def _share_with_undecodable_directory(rt, path) -> str:
    directory = os.path.join(os.fsencode(path), NAME)
    os.makedirs(directory)
    with open(os.path.join(directory, b"file"), "wb") as f:
        f.write(b"data")
    return _share(rt, path)


def test_a_restore_refused_under_an_undecodable_name_ends_with_a_readable_message(runtime, tmp_path):
    rt = runtime
    backup_id = _create(rt, _share_with_undecodable_directory(rt, tmp_path / "source"))
    assert _get(rt, ShareBackup, backup_id).status == "available"
    # Where the backup has the directory d\xff, the target share has a symlink of that name. The
    # engine will not follow it (it could lead anywhere) and reports the path as not restored.
    target, outside = tmp_path / "target", tmp_path / "outside"
    target.mkdir()
    outside.mkdir()
    os.symlink(outside, os.path.join(os.fsencode(target), NAME))
    target_id = _share(rt, target)

    _restore(rt, backup_id, target_id)

    assert _get(rt, ShareBackup, backup_id).status == "available"
    assert _get(rt, Share, target_id).status == "backup_restoring_error"
    assert os.listdir(outside) == []
    (message,) = _messages(rt)
    assert (message.resource_id, message.action_id, message.detail_id, message.message_level) == (
        target_id, "028", messages.RESTORE_INCOMPLETE, "ERROR")
    assert _readable(message.user_message).startswith(
        f"restore share backup: 1 file(s) could not be restored: /{SHOWN}: ")


def test_a_file_vanishing_under_an_undecodable_name_leaves_a_readable_warning(runtime, tmp_path, monkeypatch):
    rt = runtime
    source = tmp_path / "source"
    directory = os.path.join(os.fsencode(source), NAME)
    os.makedirs(directory)
    with open(os.path.join(directory, b"a-large"), "wb") as f:
        f.write(os.urandom(1 << 20))  # above the chunker's minimum: read on its own, with progress
    vanishing = os.path.join(directory, b"b-small")
    with open(vanishing, "wb") as f:
        f.write(b"x")
    real_backup = engine.backup

    def backup_while_a_tenant_deletes(repo, path, **kw):
        job_progress = kw["progress"]

        def progress(done, total):
            # The first progress comes while a-large is read: d\xff has been listed by then, and
            # b-small is opened only after it, so the engine finds b-small gone: "vanished".
            if os.path.lexists(vanishing):
                os.unlink(vanishing)
            job_progress(done, total)
        return real_backup(repo, path, **{**kw, "progress": progress})
    monkeypatch.setattr(backup_jobs.engine, "backup", backup_while_a_tenant_deletes)
    share_id = _share(rt, source)

    backup_id = _create(rt, share_id)

    assert not os.path.lexists(vanishing)  # the condition really happened
    assert _get(rt, ShareBackup, backup_id).status == "available"
    assert _get(rt, Share, share_id).status == "available"
    (message,) = _messages(rt)
    assert (message.resource_id, message.detail_id, message.message_level) == (
        backup_id, messages.FILES_SKIPPED, "WARNING")
    text = _readable(message.user_message)
    assert text.startswith("create share backup: the backup is available, but 1 file(s) may be missing")
    assert f"/{SHOWN}/b-small: " in text


# The engine escapes the text of its per-file reports itself (engine.progress.Reporter, since it
# reads shares by directory fd); before that it passed os.fsdecode'd names on, and an exception
# escaping it may still quote one. The job layer makes its own text safe and relies on neither:
# these tests hand it such text directly.
UNDECODABLE = os.fsdecode(b"/d\xff")  # "/d\udcff"


def test_a_backup_report_with_a_lone_surrogate_becomes_a_readable_warning(runtime, tmp_path, monkeypatch):
    rt = runtime
    (tmp_path / "file").write_bytes(b"data")
    share_id = _share(rt, tmp_path)
    real_backup = engine.backup

    def backup_reporting_a_decoded_name(repo, path, **kw):
        kw["report"](f"{UNDECODABLE}/file", "error", f"cannot open {UNDECODABLE}/file; not in snapshot")
        return real_backup(repo, path, **kw)
    monkeypatch.setattr(backup_jobs.engine, "backup", backup_reporting_a_decoded_name)

    backup_id = _create(rt, share_id)

    assert _get(rt, ShareBackup, backup_id).status == "available"
    assert _get(rt, Share, share_id).status == "available"
    (message,) = _messages(rt)
    assert _readable(message.user_message) == (
        f"create share backup: the backup is available, but 1 file(s) may be missing or inconsistent in it: "
        f"/{SHOWN}/file: cannot open /{SHOWN}/file; not in snapshot")


@pytest.mark.parametrize("error, shown", [
    (lambda root: engine.UnsafePathError(f"refusing to follow the symlink at {UNDECODABLE}"),
     f"UnsafePathError: refusing to follow the symlink at /{SHOWN}"),
    # the engine's names are bytes, so an OSError may carry b"<share>/d\xff" as its filename: the
    # tenant sees it as a path inside the share
    (lambda root: FileNotFoundError(2, "No such file or directory", os.fsencode(root) + b"/d\xff"),
     f"No such file or directory (/{SHOWN})"),
], ids=["surrogate-text", "bytes-filename"])
def test_a_restore_failing_on_an_undecodable_name_ends_with_a_readable_message(runtime, tmp_path, monkeypatch, caplog,
                                                                               error, shown):
    rt = runtime
    (tmp_path / "file").write_bytes(b"data")
    share_id = _share(rt, tmp_path)
    backup_id = _create(rt, share_id)
    error = error(tmp_path)

    def failing_restore(*args, **kw):
        raise error
    monkeypatch.setattr(backup_jobs.engine, "restore", failing_restore)

    _restore(rt, backup_id, share_id)

    assert _get(rt, ShareBackup, backup_id).status == "available"
    assert _get(rt, Share, share_id).status == "backup_restoring_error"
    (message,) = _messages(rt)
    assert _readable(message.user_message) == f"restore share backup: the share directory could not be written: {shown}"
    # the log line and its traceback as a handler that is not ours writes them (pytest's here)
    assert f"/{SHOWN}" in _readable(caplog.text) and "Traceback" in caplog.text


def test_a_restore_whose_snapshot_is_gone_says_the_backups_data_is_missing(runtime, tmp_path):
    rt = runtime
    source = tmp_path / "source"
    source.mkdir()
    (source / "file").write_bytes(b"data")
    share_id = _share(rt, source)
    backup_id = _create(rt, share_id)
    snap_id = _get(rt, ShareBackup, backup_id).engine_snapshot_id
    engine.forget(backup_repository.open_repository(rt.config, "default"), snap_id)

    _restore(rt, backup_id, share_id)

    assert _get(rt, Share, share_id).status == "backup_restoring_error"
    (message,) = _messages(rt)
    assert message.user_message == (f"restore share backup: the backup's data is missing from the repository "
                                    f"(snapshot {snap_id} not found); the backup cannot be restored")
    assert message.detail_id == messages.BACKUP_DATA_MISSING


def _refuse_the_first_message(monkeypatch):
    """create_message raises once, as a database refusing a message's text would."""
    real = messages.create_message
    calls = []

    def create_message(*args, **kw):
        calls.append(args)
        if len(calls) == 1:
            raise ValueError("the database refused the text")
        return real(*args, **kw)
    monkeypatch.setattr(backup_jobs.messages, "create_message", create_message)
    return calls


def test_a_failed_restore_whose_message_cannot_be_written_still_ends(runtime, tmp_path, monkeypatch):
    rt = runtime
    share_id = _share(rt, tmp_path)
    backup_id = _backup(rt, share_id, status="available")  # no engine snapshot: the restore fails
    calls = _refuse_the_first_message(monkeypatch)

    _restore(rt, backup_id, share_id)

    assert len(calls) == 2
    assert _get(rt, ShareBackup, backup_id).status == "available"
    assert _get(rt, Share, share_id).status == "backup_restoring_error"
    (message,) = _messages(rt)
    assert message.user_message == f"restore share backup: {backup_jobs.UNRECORDED}"


@pytest.mark.parametrize("kind, status, share_status, ended, share_ended", [
    (CREATE, "creating", "backup_creating", "error", "available"),
    (RESTORE, "restoring", "backup_restoring", "available", "backup_restoring_error"),
    (DELETE, "deleting", "available", "error_deleting", "available"),
])
def test_a_give_up_whose_message_cannot_be_written_still_ends(sqlite_runtime, tmp_path, monkeypatch,
                                                              kind, status, share_status, ended, share_ended):
    rt = sqlite_runtime
    share_id = _share(rt, tmp_path, status=share_status)
    backup_id = _backup(rt, share_id, status=status)
    _refuse_the_first_message(monkeypatch)

    _give_up(rt, kind, backup_id, {"share_id": share_id})

    assert _get(rt, ShareBackup, backup_id).status == ended
    assert _get(rt, Share, share_id).status == share_ended
    (message,) = _messages(rt)
    assert message.user_message.endswith(f": {backup_jobs.UNRECORDED}")


def test_a_backup_whose_warning_cannot_be_written_is_still_available(sqlite_runtime, tmp_path, monkeypatch):
    rt = sqlite_runtime
    (tmp_path / "file").write_bytes(b"data")
    share_id = _share(rt, tmp_path)
    real_backup = engine.backup

    def noisy_backup(repo, path, **kw):
        kw["report"]("/file", "changed", "modified while being read")
        return real_backup(repo, path, **kw)
    monkeypatch.setattr(backup_jobs.engine, "backup", noisy_backup)
    _refuse_the_first_message(monkeypatch)

    backup_id = _create(rt, share_id)

    assert _get(rt, ShareBackup, backup_id).status == "available"
    assert _get(rt, Share, share_id).status == "available"
    (message,) = _messages(rt)
    assert message.message_level == "WARNING"
    assert message.user_message == ("create share backup: the backup is available, but 1 file(s) may be missing or "
                                    "inconsistent in it (the list could not be recorded; the worker's log has it)")


def test_a_runner_error_quoting_an_undecodable_name_fails_the_job_and_the_worker_goes_on(runtime, caplog):
    """The pool records a runner's exception as the job's last_error. Before, that UPDATE raised on
    the name, which ended the worker thread and left the job claimed: the next worker to take
    it over after its lease ran out met the same fate."""
    rt = runtime

    def runner(claim, heartbeat):
        raise RuntimeError(f"cannot list /{os.fsdecode(NAME)}")

    with rt.db.transaction() as session:
        jobs = [enqueue(session, "test.undecodable", f"resource-{n}") for n in range(2)]
        session.flush()
        job_ids = [job.id for job in jobs]
    pool = WorkerPool(lambda owner: LeaseQueue(rt.db, owner, 30.0), {"test.undecodable": runner},
                      threads=1, poll_seconds=0.02)  # one thread: the second job needs it alive
    pool.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            with rt.db.reader() as session:
                rows = list(session.scalars(select(Job).where(Job.id.in_(job_ids))))
            if all(row.state == FAILED for row in rows):
                break
            assert time.monotonic() < deadline, [(row.state, row.last_error) for row in rows]
            time.sleep(0.02)
    finally:
        pool.stop()
    assert [row.last_error for row in rows] == [f"RuntimeError: cannot list /{SHOWN}"] * 2
    assert f"RuntimeError: cannot list /{SHOWN}" in _readable(caplog.text)


@pytest.mark.parametrize("filename", ["/var/lib/sharebackup/secret/path", b"/srv/other-tenant/f\xff"])
def test_a_server_path_never_reaches_the_tenants_message(runtime, tmp_path, monkeypatch, caplog, filename):
    """Issue 10: a failed backup's user message showed the server's local path. A path outside the
    share is left to the log; the tenant reads what failed."""
    rt = runtime
    (tmp_path / "file").write_bytes(b"data")
    share_id = _share(rt, tmp_path)
    backup_id = _create(rt, share_id)

    def failing_restore(*args, **kw):
        raise PermissionError(13, "Permission denied", filename)
    monkeypatch.setattr(backup_jobs.engine, "restore", failing_restore)

    _restore(rt, backup_id, share_id)

    (message,) = _messages(rt)
    assert message.user_message == ("restore share backup: the share directory could not be written: "
                                    "Permission denied")
    assert str(tmp_path) not in message.user_message
    assert "/srv/other-tenant" in caplog.text or "/var/lib/sharebackup/secret" in caplog.text  # the log keeps it


def test_an_expected_failure_logs_no_traceback(runtime, tmp_path, caplog):
    """Issue 10: a JobFailed (a failure told in plain words) logged a full traceback."""
    rt = runtime
    share_id = _share(rt, tmp_path / "missing")  # no such directory: the job fails, as expected
    backup_id = _backup(rt, share_id)
    _run(rt, CREATE, backup_id)
    assert _get(rt, ShareBackup, backup_id).status == "error"
    assert "the share directory could not be read: it is missing on the server" in caplog.text
    assert "Traceback" not in caplog.text
    assert str(tmp_path) not in _messages(rt)[0].user_message
