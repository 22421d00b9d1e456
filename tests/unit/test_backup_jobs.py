"""The share-backup runners: create, restore and delete with the real engine and a real share directory.

Rows are inserted directly in the states the API leaves them in (creating/backup_creating,
restoring/backup_restoring, deleting), then the runner is called as a worker would.
"""
from __future__ import annotations

import os
import shutil
import socket

import pytest
from sqlalchemy import select

from sharebackup import engine
from sharebackup.db.models import Message, Share, ShareBackup
from sharebackup.workflows import backup_delete_job, backup_jobs, backup_repository
from sharebackup.workflows.backup_jobs import CREATE, DELETE, RESTORE
from sharebackup.queue.lease_queue import Claim, enqueue
from tests.engine.helpers import make_rich_tree, snapshot_of_tree


def _share(rt, path, status="available", project="demo") -> str:
    with rt.db.transaction() as session:
        share = Share(user_id="demo", project_id=project, size=1, share_proto="NFS", status=status,
                      driver_path=str(path))
        session.add(share)
        session.flush()
        return share.id


def _backup(rt, share_id, status="creating", **fields) -> str:
    with rt.db.transaction() as session:
        backup = ShareBackup(user_id="demo", project_id="demo", share_id=share_id, size=1, status=status,
                             progress="0", restore_progress="0", **fields)
        session.add(backup)
        session.flush()
        return backup.id


def _set(rt, model, row_id, **fields):
    with rt.db.transaction() as session:
        row = session.get(model, row_id)
        for key, value in fields.items():
            setattr(row, key, value)


def _get(rt, model, row_id):
    with rt.db.reader() as session:
        return session.get(model, row_id)


def _messages(rt) -> list[Message]:
    with rt.db.reader() as session:
        return list(session.scalars(select(Message).order_by(Message.created_at)))


def _run(rt, kind, backup_id, payload=None, heartbeat=lambda: True):
    return backup_jobs.runners(rt)[kind](Claim("job", kind, backup_id, payload or {}, 1, False), heartbeat)


def _give_up(rt, kind, backup_id, payload=None):
    backup_jobs.runners(rt)[kind].give_up(Claim("job", kind, backup_id, payload or {}, 3, True), "died")


def _create(rt, share_id, **payload) -> str:
    _set(rt, Share, share_id, status="backup_creating")
    backup_id = _backup(rt, share_id)
    _run(rt, CREATE, backup_id, {"share_id": share_id, "backup_options": {}, **payload})
    return backup_id


def _restore(rt, backup_id, target_id):
    _set(rt, ShareBackup, backup_id, status="restoring", restore_progress="0")
    _set(rt, Share, target_id, status="backup_restoring")
    _run(rt, RESTORE, backup_id, {"share_id": target_id})


def queue_small_backup(tmp_path):
    """A runtime with one small share and one queued backup job (for tests that start workers).
    Returns (runtime, state directory, share id, backup id)."""
    from tests.conftest import make_runtime
    state = tmp_path / "state"
    rt = make_runtime(state)
    share_dir = tmp_path / "share"
    share_dir.mkdir()
    (share_dir / "file").write_bytes(b"data" * 1000)
    share_id = _share(rt, share_dir, status="backup_creating")
    backup_id = _backup(rt, share_id)
    with rt.db.transaction() as session:
        enqueue(session, CREATE, backup_id, {"share_id": share_id, "backup_options": {}})
    return rt, state, share_id, backup_id


@pytest.fixture
def share_dir(tmp_path):
    path = tmp_path / "share"
    make_rich_tree(path)
    os.makedirs(path / "lost+found")
    (path / "lost+found" / "orphan").write_bytes(b"fsck found me")
    os.makedirs(path / "docs" / "lost+found")
    return path


def test_backup_restore_delete_round_trip(runtime, share_dir, tmp_path):
    rt = runtime
    share_id = _share(rt, share_dir)
    before = snapshot_of_tree(str(share_dir))
    backup_id = _create(rt, share_id)

    backup = _get(rt, ShareBackup, backup_id)
    assert (backup.status, backup.progress, backup.host, backup.topic) == (
        "available", "100", socket.gethostname(), "manila-data")
    assert backup.repository == "default" and backup.engine_snapshot_id
    assert _get(rt, Share, share_id).status == "available"
    assert _messages(rt) == []
    repo = backup_repository.open_repository(rt.config, "default")
    snap = repo.load_snapshot(backup.engine_snapshot_id)
    assert snap["tags"] == [backup_id]

    # change, delete and add files; restore merges: the backup's paths come back byte for byte
    (share_dir / "docs" / "a.txt").write_bytes(b"overwritten")
    os.unlink(share_dir / "random.bin")
    shutil.rmtree(share_dir / "docs" / "deep")
    os.unlink(share_dir / "link")
    (share_dir / "extra.txt").write_bytes(b"not in the backup")
    _restore(rt, backup_id, share_id)
    backup = _get(rt, ShareBackup, backup_id)
    assert (backup.status, backup.restore_progress) == ("available", "100")
    assert _get(rt, Share, share_id).status == "available"
    after = snapshot_of_tree(str(share_dir))
    assert after.pop("extra.txt")["data"] == b"not in the backup"  # merge leaves other files alone
    assert after == before
    assert _messages(rt) == []

    # restore into another (empty) share: everything but lost+found, at any depth
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other_id = _share(rt, other_dir)
    _restore(rt, backup_id, other_id)
    restored = snapshot_of_tree(str(other_dir))
    assert not any("lost+found" in rel for rel in restored)
    assert restored == {rel: d for rel, d in before.items() if "lost+found" not in rel}

    # delete: the engine snapshot is forgotten and the row marked deleted
    _set(rt, ShareBackup, backup_id, status="deleting")
    _run(rt, DELETE, backup_id)
    backup = _get(rt, ShareBackup, backup_id)
    assert backup.deleted and backup.status == "deleted" and backup.deleted_at is not None
    repo = backup_repository.open_repository(rt.config, "default")
    assert backup.engine_snapshot_id not in repo.snapshot_ids()


def test_incremental_backup_uses_the_previous_snapshot_as_parent(sqlite_runtime, share_dir):
    rt = sqlite_runtime
    share_id = _share(rt, share_dir)
    first = _create(rt, share_id)
    (share_dir / "new.txt").write_bytes(b"new")
    second = _create(rt, share_id)
    repo = backup_repository.open_repository(rt.config, "default")
    first_snap = _get(rt, ShareBackup, first).engine_snapshot_id
    doc = repo.load_snapshot(_get(rt, ShareBackup, second).engine_snapshot_id)
    assert doc["parent"] == first_snap
    assert doc["summary"]["files_new"] == 1


def test_missing_share_directory_fails_the_backup_with_a_message(runtime, tmp_path):
    rt = runtime
    share_id = _share(rt, tmp_path / "gone")
    backup_id = _create(rt, share_id)
    backup = _get(rt, ShareBackup, backup_id)
    assert backup.status == "error"
    assert "share directory could not be read" in backup.fail_reason
    assert _get(rt, Share, share_id).status == "available"
    (message,) = _messages(rt)
    assert (message.resource_type, message.resource_id, message.project_id, message.message_level) == (
        "SHARE_BACKUP", backup_id, "demo", "ERROR")
    assert message.user_message.startswith("create share backup: the share directory could not be read")
    assert message.expires_at > message.created_at


def test_unknown_backup_type_fails_the_backup(sqlite_runtime, share_dir):
    rt = sqlite_runtime
    share_id = _share(rt, share_dir)
    backup_id = _create(rt, share_id, backup_options={"backup_type": "nowhere"})
    assert _get(rt, ShareBackup, backup_id).status == "error"
    assert "nowhere" in _messages(rt)[0].user_message


def test_named_repository_from_configuration(tmp_path, share_dir):
    from tests.conftest import make_runtime
    from dataclasses import replace
    rt = make_runtime(tmp_path / "state")
    try:
        rt.config = replace(rt.config, backup=replace(rt.config.backup,
                                                      repositories=[f"offsite={tmp_path / 'offsite'}"]))
        share_id = _share(rt, share_dir)
        backup_id = _create(rt, share_id, backup_options={"backup_type": "offsite"})
        backup = _get(rt, ShareBackup, backup_id)
        assert (backup.status, backup.repository) == ("available", "offsite")
        assert (tmp_path / "offsite" / "config").exists()
        assert not (tmp_path / "state" / "repository" / "config").exists()
    finally:
        rt.db.dispose()


def test_file_problems_during_backup_become_a_warning_message(sqlite_runtime, share_dir, monkeypatch):
    rt = sqlite_runtime
    share_id = _share(rt, share_dir)
    real_backup = engine.backup

    def noisy_backup(repo, src, **kw):
        kw["report"]("/docs/a.txt", "changed", "modified while being read")
        return real_backup(repo, src, **kw)
    monkeypatch.setattr(backup_jobs.engine, "backup", noisy_backup)
    backup_id = _create(rt, share_id)
    assert _get(rt, ShareBackup, backup_id).status == "available"
    (message,) = _messages(rt)
    assert message.message_level == "WARNING" and "/docs/a.txt" in message.user_message


def test_failed_restore_leaves_the_share_in_restoring_error(sqlite_runtime, share_dir, tmp_path):
    rt = sqlite_runtime
    share_id = _share(rt, share_dir)
    backup_id = _create(rt, share_id)
    target_id = _share(rt, tmp_path / "missing-target")
    _restore(rt, backup_id, target_id)
    assert _get(rt, ShareBackup, backup_id).status == "available"
    assert _get(rt, Share, target_id).status == "backup_restoring_error"
    (message,) = _messages(rt)
    assert (message.resource_type, message.resource_id, message.action_id) == ("SHARE", target_id, "028")
    assert message.user_message.startswith("restore share backup: the share directory could not be written")


def test_restore_progress_restarts_at_zero_and_reaches_100(sqlite_runtime, share_dir):
    rt = sqlite_runtime
    share_id = _share(rt, share_dir)
    backup_id = _create(rt, share_id)
    _set(rt, ShareBackup, backup_id, restore_progress="100")
    seen = []
    real_write = backup_jobs.JobProgress._write
    backup_jobs.JobProgress._write = lambda self, value: seen.append(value) or real_write(self, value)
    try:
        _restore(rt, backup_id, share_id)
    finally:
        backup_jobs.JobProgress._write = real_write
    assert _get(rt, ShareBackup, backup_id).restore_progress == "100"
    assert all(int(v) < 100 for v in seen)


def test_progress_is_written_as_the_backup_goes(sqlite_runtime, tmp_path, monkeypatch):
    from sharebackup.engine import progress as progress_mod
    rt = sqlite_runtime
    path = tmp_path / "big"
    path.mkdir()
    for i in range(12):
        (path / f"f{i}").write_bytes(os.urandom(1024 * 1024))
    share_id = _share(rt, path)
    from sharebackup.workflows import backup_job_progress
    monkeypatch.setattr(backup_job_progress, "PROGRESS_WRITE_INTERVAL", 0.0)
    monkeypatch.setattr(progress_mod.ProgressTracker.__init__, "__defaults__", (0, 0.0))
    written = []
    real_write = backup_jobs.JobProgress._write
    monkeypatch.setattr(backup_jobs.JobProgress, "_write",
                        lambda self, value: written.append(value) or real_write(self, value))
    backup_id = _create(rt, share_id)
    assert _get(rt, ShareBackup, backup_id).progress == "100"
    assert len(set(written)) >= 3, written
    assert [int(v) for v in written] == sorted(int(v) for v in written)
    assert all(0 <= int(v) < 100 for v in written)


def test_lost_lease_stops_the_job_and_leaves_the_states(sqlite_runtime, share_dir, monkeypatch):
    rt = sqlite_runtime
    share_id = _share(rt, share_dir)
    _set(rt, Share, share_id, status="backup_creating")
    backup_id = _backup(rt, share_id)
    from sharebackup.engine import progress as progress_mod
    monkeypatch.setattr(progress_mod.ProgressTracker.__init__, "__defaults__", (0, 0.0))
    monkeypatch.setattr(backup_jobs.JobProgress, "check", lambda self: (_ for _ in ()).throw(
        backup_jobs.LeaseLost("taken")))
    _run(rt, CREATE, backup_id, {"share_id": share_id})
    assert _get(rt, ShareBackup, backup_id).status == "creating"
    assert _get(rt, Share, share_id).status == "backup_creating"
    assert _messages(rt) == []


def test_give_up_ends_in_the_failed_states(runtime, share_dir):
    rt = runtime
    share_id = _share(rt, share_dir, status="backup_creating")
    creating = _backup(rt, share_id)
    _give_up(rt, CREATE, creating)
    assert _get(rt, ShareBackup, creating).status == "error"
    assert "interrupted" in _get(rt, ShareBackup, creating).fail_reason
    assert _get(rt, Share, share_id).status == "available"

    _set(rt, Share, share_id, status="backup_restoring")
    restoring = _backup(rt, share_id, status="restoring")
    _give_up(rt, RESTORE, restoring, {"share_id": share_id})
    assert _get(rt, ShareBackup, restoring).status == "available"
    assert _get(rt, Share, share_id).status == "backup_restoring_error"

    deleting = _backup(rt, share_id, status="deleting")
    _give_up(rt, DELETE, deleting)
    assert _get(rt, ShareBackup, deleting).status == "error_deleting"
    assert [m.action_id for m in _messages(rt)] == ["101", "028", "102"]


def test_delete_failure_is_error_deleting_with_a_message(sqlite_runtime, share_dir, monkeypatch):
    rt = sqlite_runtime
    share_id = _share(rt, share_dir)
    backup_id = _create(rt, share_id)
    _set(rt, ShareBackup, backup_id, status="deleting")

    def broken(repo, snap_id):
        raise engine.StoreError("disk unplugged")
    monkeypatch.setattr(backup_jobs.engine, "forget", broken)
    _run(rt, DELETE, backup_id)
    assert _get(rt, ShareBackup, backup_id).status == "error_deleting"
    assert "disk unplugged" in _messages(rt)[0].user_message


def test_delete_of_a_backup_without_data_just_marks_it_deleted(sqlite_runtime, tmp_path):
    rt = sqlite_runtime
    share_id = _share(rt, tmp_path)
    backup_id = _backup(rt, share_id, status="deleting")
    _run(rt, DELETE, backup_id)
    assert _get(rt, ShareBackup, backup_id).deleted


def test_engine_exclude_names_both_ways(tmp_path):
    repo = engine.Repository.init(engine.open_store("memory:"))
    src = tmp_path / "src"
    (src / "a" / "lost+found").mkdir(parents=True)
    (src / "a" / "lost+found" / "x").write_bytes(b"x")
    (src / "keep").write_bytes(b"k")
    skipped = engine.backup(repo, str(src), options=engine.BackupOptions(exclude_names=("lost+found",)))
    engine.restore(repo, skipped, str(tmp_path / "one"))
    assert (tmp_path / "one" / "keep").exists() and not (tmp_path / "one" / "a" / "lost+found").exists()
    full = engine.backup(repo, str(src))
    engine.restore(repo, full, str(tmp_path / "two"), exclude_names=("lost+found",))
    assert (tmp_path / "two" / "a").is_dir() and not (tmp_path / "two" / "a" / "lost+found").exists()


def test_a_locked_repository_queues_the_job_again_later(sqlite_runtime, share_dir, monkeypatch):
    from sharebackup.db.models import Job, utcnow
    rt = sqlite_runtime
    share_id = _share(rt, share_dir)
    backup_id = _create(rt, share_id)
    _set(rt, ShareBackup, backup_id, status="deleting")

    def locked(repo, snap_id):
        raise engine.LockedError("repository is locked (exclusive, gc)")
    monkeypatch.setattr(backup_jobs.engine, "forget", locked)
    monkeypatch.setattr(backup_delete_job, "LOCK_WAIT_SECONDS", 0.0)
    from sharebackup.queue.lease_queue import LeaseQueue, Later
    with rt.db.transaction() as session:
        enqueue(session, DELETE, backup_id)
    queue = LeaseQueue(rt.db, "worker")
    claim = queue.claim([DELETE])
    later = backup_jobs.runners(rt)[DELETE](claim, lambda: queue.heartbeat(claim.id))
    assert isinstance(later, Later) and later.payload == {"lock_retries": 1} and later.delay_seconds > 0
    assert queue.retry_later(claim.id, later)
    assert _get(rt, ShareBackup, backup_id).status == "deleting"
    with rt.db.reader() as session:
        (job,) = session.scalars(select(Job).where(Job.resource_id == backup_id)).all()
    assert job.kind == DELETE and job.payload == {"lock_retries": 1} and job.not_before > utcnow()
    assert (job.state, job.attempts, job.lease_owner) == ("queued", 0, None)  # putting off costs no attempt
    assert _messages(rt) == []

    backup_jobs.runners(rt)[DELETE](Claim("job", DELETE, backup_id, {"lock_retries": backup_jobs.LOCK_RETRY_LIMIT},
                                          1, False), lambda: True)
    assert _get(rt, ShareBackup, backup_id).status == "error_deleting"
    assert "locked" in _messages(rt)[0].user_message


def test_an_unreadable_share_directory_fails_the_backup(sqlite_runtime, tmp_path, monkeypatch):
    rt = sqlite_runtime
    path = tmp_path / "locked"
    path.mkdir()
    (path / "secret").write_bytes(b"x")
    from sharebackup.engine import safe_fs
    real_names = safe_fs.names

    def names(dir_fd):  # the engine lists by directory fd
        if os.readlink(f"/proc/self/fd/{dir_fd}") == str(path):  # as chmod 000 would for anyone but root
            raise PermissionError(13, "Permission denied")
        return real_names(dir_fd)
    monkeypatch.setattr(safe_fs, "names", names)
    share_id = _share(rt, path)
    backup_id = _create(rt, share_id)
    backup = _get(rt, ShareBackup, backup_id)
    assert backup.status == "error"
    assert backup.fail_reason == "the share directory could not be read: cannot list directory: Permission denied"
    assert backup_repository.open_repository(rt.config, "default").snapshot_ids() == []


def test_a_dead_workers_job_is_resumed_by_another_worker(runtime, share_dir):
    import time
    from sharebackup.queue.lease_queue import LeaseQueue, enqueue
    rt = runtime
    share_id = _share(rt, share_dir, status="backup_creating")
    backup_id = _backup(rt, share_id)
    with rt.db.transaction() as session:
        enqueue(session, CREATE, backup_id, {"share_id": share_id, "backup_options": {}})
    dead = LeaseQueue(rt.db, "dead-worker", lease_seconds=0.05)
    assert dead.claim([CREATE]).resource_id == backup_id  # ... and the worker dies here
    alive = LeaseQueue(rt.db, "live-worker")
    assert alive.claim([CREATE]) is None  # the lease still runs
    time.sleep(0.1)
    claim = alive.claim([CREATE])
    assert (claim.resource_id, claim.attempt, claim.give_up) == (backup_id, 2, False)
    backup_jobs.runners(rt)[CREATE](claim, lambda: alive.heartbeat(claim.id))
    assert _get(rt, ShareBackup, backup_id).status == "available"
    assert not dead.heartbeat(claim.id)  # the dead worker, were it to wake, would stop


def test_heartbeat_false_stops_the_job(sqlite_runtime, share_dir, monkeypatch):
    import time
    from dataclasses import replace
    from sharebackup.engine import progress as progress_mod
    rt = sqlite_runtime
    rt.config = replace(rt.config, backup=replace(rt.config.backup, job_lease_seconds=0.2))
    monkeypatch.setattr(progress_mod.ProgressTracker.__init__, "__defaults__", (0, 0.0))
    share_id = _share(rt, share_dir, status="backup_creating")
    backup_id = _backup(rt, share_id)
    real_backup = engine.backup

    def slow_backup(*args, **kw):
        time.sleep(0.5)  # several lease-keeper rounds before the first progress call
        return real_backup(*args, **kw)
    monkeypatch.setattr(backup_jobs.engine, "backup", slow_backup)
    beats = []

    def heartbeat():
        beats.append(1)
        return False
    _run(rt, CREATE, backup_id, {"share_id": share_id}, heartbeat=heartbeat)
    assert beats  # the lease keeper asked, learnt the job was taken over, and the runner stopped
    assert _get(rt, ShareBackup, backup_id).status == "creating"
    assert _get(rt, Share, share_id).status == "backup_creating"


def test_a_dead_workers_repository_lock_runs_out_within_three_job_leases(tmp_path, share_dir):
    """A worker killed mid-backup leaves its repository lock behind. The workers' locks live
    three job leases (renewed while alive), so deletes are blocked briefly, not for 300 s."""
    import json
    import time
    from dataclasses import replace

    from tests.conftest import make_runtime
    rt = make_runtime(tmp_path / "state")
    rt.config = replace(rt.config, backup=replace(rt.config.backup, job_lease_seconds=4.0))
    repo = backup_repository.open_repository(rt.config, "default")
    assert repo.lock_lease == 12.0
    held = repo.lock(exclusive=False, purpose="backup")
    doc = json.loads(repo.store.get(held.name))
    assert 11.0 <= doc["expires"] - time.time() <= 12.5
    held._stop.set()  # the worker dies: nobody renews or releases the lock
    other = backup_repository.open_repository(rt.config, "default")
    with pytest.raises(engine.LockedError):
        other.lock(exclusive=True, purpose="forget")
    rt.db.dispose()


def test_create_and_restore_report_their_bytes_for_the_metrics(sqlite_runtime, tmp_path):
    from sharebackup.queue.metrics import JobResult

    rt = sqlite_runtime
    src = tmp_path / "bytes-share"
    src.mkdir()
    (src / "a").write_bytes(os.urandom(50_000))
    (src / "b").write_bytes(b"z" * 70_000)
    share_id = _share(rt, src, status="backup_creating")
    backup_id = _backup(rt, share_id)
    run = backup_jobs.runners(rt)
    created = run[CREATE](Claim("job", CREATE, backup_id, {"share_id": share_id, "backup_options": {}}, 1, False),
                          lambda: True)
    assert isinstance(created, JobResult) and created.repository == "default"
    assert created.read == 120_000 and created.deduplicated == 0
    assert 50_000 <= created.written < 120_000  # the random half does not compress, the zeros do
    _set(rt, Share, share_id, status="backup_creating")
    second_id = _backup(rt, share_id)
    again = run[CREATE](Claim("job", CREATE, second_id, {"share_id": share_id, "backup_options": {}}, 1, False),
                        lambda: True)
    assert (again.read, again.written, again.deduplicated) == (0, 0, 120_000)  # nothing changed: nothing read
    _set(rt, ShareBackup, backup_id, status="restoring", restore_progress="0")
    _set(rt, Share, share_id, status="backup_restoring")
    restored = run[RESTORE](Claim("job", RESTORE, backup_id, {"share_id": share_id}, 1, False), lambda: True)
    assert restored == JobResult("default", restored=120_000)


def test_backup_create_delay_keeps_the_share_busy_and_the_lease_alive(tmp_path):
    """The test-only start delay (tempest's negative tests need the share busy for a moment)."""
    import threading
    from dataclasses import replace as dc_replace

    from tests.conftest import make_runtime
    rt = make_runtime(tmp_path / "state")
    try:
        rt.config = dc_replace(rt.config, backup_create_delay=1.2)
        src = tmp_path / "tiny"
        src.mkdir()
        share_id = _share(rt, src, status="backup_creating")
        backup_id = _backup(rt, share_id)
        beats = []
        runner = threading.Thread(target=_run, args=(rt, CREATE, backup_id, {"share_id": share_id, "backup_options": {}},
                                                     lambda: beats.append(1) or True))
        runner.start()
        runner.join(0.6)
        assert runner.is_alive()
        assert _get(rt, ShareBackup, backup_id).status == "creating"
        assert _get(rt, Share, share_id).status == "backup_creating"
        runner.join(30)
        assert not runner.is_alive()
        assert _get(rt, ShareBackup, backup_id).status == "available"
        assert beats  # the lease was renewed while it waited
    finally:
        rt.db.dispose()
