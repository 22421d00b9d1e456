"""A `sharebackup worker` killed with SIGKILL inside a share_backup.delete job leaves nothing stuck:
once the job's lease runs out, another `sharebackup worker` process takes the job over and ends it.

Both workers are real processes that read the same configuration file as the test (same state
directory, SQLite database and default local repository, a job lease of 2 s). The delete is queued
by the service, as the API does. Where the first worker dies is made deterministic without any
hook in the service:

- "waiting for the repository lock": the test holds a shared repository lock (as a running backup
  does), so the worker's forget cannot take its exclusive lock and `_forget` waits, renewing the
  job's lease once a second. Nothing else renews a delete job's lease, so a lease that moves on
  proves the worker is in that wait; it is killed there (the job still running, nothing forgotten).
- "after forgetting the snapshot": a FIFO in the repository's locks/ directory stops the worker's
  forget while it reads the other lock objects (the local store reads each with open() + read()):
  a non-blocking open of the FIFO's write end succeeds only once the worker has it open. The test
  then takes SQLite's write lock and lets the read end see an empty (expired) lock document: the
  forget goes through, and the worker's next step, the backup row's update, waits for the write
  lock. The worker is killed when the snapshot manifest and its forget lock are gone, that is
  after the engine's work and before the database records it; the next worker's forget then finds
  no snapshot, which counts as done.
"""
from __future__ import annotations

import errno
import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from sharebackup import engine
from sharebackup.core.context import RequestContext
from sharebackup.core.runtime import build_runtime
from sharebackup.config import load_config
from sharebackup.db.models import Job, ShareBackup
from sharebackup.workflows import backup_repository
from sharebackup.workflows.backup_jobs import DELETE
from sharebackup.services import share_backups as backup_service
from sharebackup.services.bootstrap import prepare_database
from tests.engine.helpers import snapshot_of_tree
from tests.integration.server_process import isolated_env, sharebackup_command
from tests.unit.test_backup_jobs import _create, _get, _share
from tests.unit.test_repository_gc import _files

JOB_LEASE = 2.0  # seconds; repository locks then last max(3 * 2, 10) = 10 s (lock_lease_seconds)

CONFIG = """\
[DEFAULT]
state_dir = {state}
auth_strategy = noauth

[backup]
job_lease_seconds = {lease}
gc_interval_seconds = 0
"""


def _wait(predicate, timeout, what, workers=()):
    """predicate()'s first true value; fails with `what` after `timeout` s, or at once when a worker
    that should be running has exited."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        for worker in workers:
            if worker.proc.poll() is not None:
                pytest.fail(f"worker {worker.name} exited with {worker.proc.returncode} while waiting for "
                            f"{what}; its output:\n{worker.output()}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}; worker output:\n"
                        + "\n".join(f"--- {w.name}:\n{w.output()}" for w in workers))
        time.sleep(0.02)


class _Worker:
    """`sharebackup worker --config FILE` in a process group of its own, output to a file."""

    def __init__(self, name: str, config: Path, env: dict, log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"worker-{name}.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [*sharebackup_command(), "worker", "--config", str(config), "--threads", "1", "--grace", "1"],
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def kill(self) -> int:
        os.killpg(self.proc.pid, signal.SIGKILL)  # its own group (start_new_session): pgid == pid
        return self.proc.wait(30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(30)


def _runtime(config: Path):
    """The test's runtime, from the very file the workers read."""
    rt = build_runtime(load_config(config, environ={}))
    prepare_database(rt)
    return rt


def _job(rt, job_id) -> Job:
    return _get(rt, Job, job_id)


def _lock_docs(repo) -> list[dict]:
    docs = []
    for info in repo.store.list("locks/"):
        try:
            docs.append(json.loads(repo.store.get(info.name)))
        except Exception:  # noqa: BLE001 - vanished or half written: not a lock that counts
            continue
    return docs


def _live_locks_of(repo, pid: int) -> list[dict]:
    now = time.time()
    return [d for d in _lock_docs(repo) if d.get("pid") == pid and d.get("expires", 0) >= now]


def _pack_names(repo) -> set[str]:
    return {i.name for i in repo.store.list("data/")}


@pytest.mark.slow
@pytest.mark.parametrize("kill_when", ["waiting for the repository lock", "after forgetting the snapshot"])
def test_delete_job_of_a_killed_worker_is_taken_over_and_finished(tmp_path, kill_when):
    state = tmp_path / "state"
    config = tmp_path / "sharebackup.conf"
    config.write_text(CONFIG.format(state=state, lease=JOB_LEASE))
    rt = _runtime(config)
    assert rt.config.backup.job_lease_seconds == JOB_LEASE and rt.config.state_path == state.resolve()
    env = isolated_env(tmp_path / "home")  # no SHAREBACKUP_* from the machine: the file is all they read
    workers: list[_Worker] = []
    shared = None
    db_lock = None
    gate = None
    writer = None
    try:
        # two shares with different contents, one backup each; only the first is deleted
        doomed_dir = _files(tmp_path / "doomed", count=4, size=200_000)
        kept_dir = _files(tmp_path / "kept", count=4, size=200_000)
        doomed = _create(rt, _share(rt, doomed_dir))
        repo = backup_repository.open_repository(rt.config, "default")
        doomed_packs = _pack_names(repo)
        kept = _create(rt, _share(rt, kept_dir))
        kept_packs = _pack_names(repo) - doomed_packs
        doomed_snap = _get(rt, ShareBackup, doomed).engine_snapshot_id
        kept_snap = _get(rt, ShareBackup, kept).engine_snapshot_id
        assert _get(rt, ShareBackup, doomed).status == _get(rt, ShareBackup, kept).status == "available"
        assert doomed_packs and kept_packs and sorted(repo.snapshot_ids()) == sorted([doomed_snap, kept_snap])

        backup_service.delete(rt, RequestContext.admin(), doomed)  # status deleting + the job, as the API does
        with rt.db.reader() as session:
            job_id = session.scalars(select(Job.id).where(Job.resource_id == doomed, Job.kind == DELETE)).one()
        assert (_job(rt, job_id).state, _get(rt, ShareBackup, doomed).status) == ("queued", "deleting")

        if kill_when == "waiting for the repository lock":
            shared = repo.lock(exclusive=False, purpose="backup")  # a backup still running
        else:
            gate = state / "repository" / "locks" / "test-gate"
            gate.parent.mkdir(parents=True, exist_ok=True)
            os.mkfifo(gate)

        first = _Worker("first", config, env, tmp_path)
        workers.append(first)
        claimed = _wait(lambda: (j := _job(rt, job_id)).state == "running" and j.lease_owner and j,
                        60, "the first worker to claim the delete job", [first])
        owner = claimed.lease_owner
        assert claimed.attempts == 1

        if kill_when == "waiting for the repository lock":
            def lease_renewed():
                job = _job(rt, job_id)
                assert (job.state, job.lease_owner) == ("running", owner), (
                    f"the job left the first worker before it was killed: {job.state}, {job.last_error}")
                return job.lease_expires_at > claimed.lease_expires_at
            _wait(lease_renewed, 20, "the first worker to renew the job's lease while it waits for the "
                  "repository lock", [first])
        else:
            def reader_waits():
                try:
                    return os.open(gate, os.O_WRONLY | os.O_NONBLOCK)
                except OSError as exc:
                    if exc.errno == errno.ENXIO:  # nobody reads the FIFO yet
                        return None
                    raise
            writer = _wait(reader_waits, 30, "the first worker's forget to read the lock objects", [first])
            db_lock = sqlite3.connect(str(state / "sharebackup.sqlite"), timeout=30, isolation_level=None)
            db_lock.execute("BEGIN IMMEDIATE")  # the worker's next database write waits (busy_timeout 30 s)
            os.unlink(gate)
            gate = None
            os.write(writer, b"{}")  # an empty lock document: expired, no conflict
            os.close(writer)
            writer = None
            _wait(lambda: doomed_snap not in repo.snapshot_ids() and not _live_locks_of(repo, first.proc.pid),
                  15, "the first worker to forget the snapshot and release its repository lock", [first])
            job = _job(rt, job_id)
            assert (job.state, job.lease_owner) == ("running", owner), "the row update must still be waiting"

        assert first.kill() == -signal.SIGKILL
        job = _job(rt, job_id)
        assert (job.state, job.lease_owner, job.attempts) == ("running", owner, 1), (job.state, job.last_error)
        backup = _get(rt, ShareBackup, doomed)
        assert (backup.status, backup.deleted) == ("deleting", False)
        if kill_when == "waiting for the repository lock":
            assert doomed_snap in repo.snapshot_ids(), "nothing may be forgotten while the shared lock is held"
        else:
            assert doomed_snap not in repo.snapshot_ids()
        with rt.db.reader() as session:
            assert session.scalars(select(Job.id).where(Job.kind == DELETE)).all() == [job_id]

        if db_lock is not None:
            db_lock.execute("ROLLBACK")
            db_lock.close()
            db_lock = None
        if shared is not None:
            shared.release()
            shared = None

        second = _Worker("second", config, env, tmp_path)
        workers.append(second)
        # the lease runs out within JOB_LEASE s; a forget lock the first worker may have left half
        # way through an attempt runs out within the repository lock's 10 s lease
        _wait(lambda: _job(rt, job_id).state in ("done", "failed"), 60,
              "the second worker to take the delete job over and end it", [second])
        job = _job(rt, job_id)
        assert (job.state, job.last_error, job.attempts) == ("done", None, 2), (job.state, job.last_error)
        assert job.lease_owner not in (None, owner), "the job must have been finished by the second worker"
        backup = _get(rt, ShareBackup, doomed)
        assert (backup.status, backup.deleted) == ("deleted", True) and backup.deleted_at is not None, (
            backup.status, backup.fail_reason)
        assert _get(rt, ShareBackup, kept).status == "available"
        with rt.db.reader() as session:
            assert session.scalars(select(Job).where(Job.state != "done")).all() == []
        second.stop()

        repo = backup_repository.open_repository(rt.config, "default")
        assert repo.snapshot_ids() == [kept_snap]
        assert _live_locks_of(repo, first.proc.pid) == [], "a lock of the killed worker still blocks"
        assert engine.check(repo, read_data=True).ok  # takes a shared lock at once (wait 0)
        engine.gc(repo, grace=0)  # takes the exclusive lock at once: no lock of anyone is left
        packs = _pack_names(repo)
        assert doomed_packs.isdisjoint(packs), "the deleted backup's data must be collectable"
        assert kept_packs <= packs
        result = engine.check(repo, read_data=True)
        assert result.ok, result.errors
        out = tmp_path / "restored"
        engine.restore(repo, kept_snap, str(out))
        assert snapshot_of_tree(str(out)) == snapshot_of_tree(str(kept_dir))
    finally:
        for worker in workers:
            if worker.proc.poll() is None:
                os.killpg(worker.proc.pid, signal.SIGKILL)
                worker.proc.wait(30)
        if writer is not None:
            os.close(writer)
        if gate is not None and os.path.lexists(gate):
            os.unlink(gate)
        if db_lock is not None:
            db_lock.close()
        if shared is not None:
            shared.release()
        rt.db.dispose()
