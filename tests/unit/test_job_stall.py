"""A backup job whose engine hangs (read() on a hung NFS mount, a stuck disk) is taken over
after `[backup] job_stall_seconds` (issue 9).

Before, the job's lease keeper renewed the lease as long as the worker process lived, so a
hung job was never taken over and its backup stayed `creating` for ever. The hang is made
where it happens in life: inside the engine, after some progress, with the job's lease
keeper running.
"""
from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from sharebackup.db.models import Job, ShareBackup
from sharebackup.workflows import backup_jobs
from sharebackup.queue.lease_queue import LeaseQueue, enqueue
from tests.unit.test_backup_jobs import _backup, _get, _share

LEASE = 0.3


@pytest.fixture
def hung_engine(monkeypatch):
    """engine.backup that reads a little, then blocks until released; on waking it reports
    progress again, as the engine would."""
    state = {"entered": threading.Event(), "release": threading.Event()}

    def backup(repo, source, progress=None, **_kwargs):
        progress(1, 10)
        state["entered"].set()
        state["release"].wait(30)
        progress(2, 10)
        raise AssertionError("a job whose lease is gone must stop at its next progress call")

    monkeypatch.setattr(backup_jobs.engine, "backup", backup)
    return state


def _queued_backup(rt, tmp_path, stall: float):
    rt.config = dataclasses.replace(rt.config, backup=dataclasses.replace(
        rt.config.backup, job_lease_seconds=LEASE, job_stall_seconds=stall))
    share_dir = tmp_path / "share"
    share_dir.mkdir()
    share_id = _share(rt, share_dir, status="backup_creating")
    backup_id = _backup(rt, share_id)
    with rt.db.transaction() as session:
        enqueue(session, backup_jobs.CREATE, backup_id, {"share_id": share_id, "backup_options": {}})
    return backup_id


def _start_first_worker(rt, hung_engine):
    first = LeaseQueue(rt.db, "first", lease_seconds=LEASE)
    claim = first.claim([backup_jobs.CREATE])
    assert claim is not None
    runner = backup_jobs.runners(rt)[backup_jobs.CREATE]
    thread = threading.Thread(target=runner, args=(claim, lambda: first.heartbeat(claim.id)), daemon=True)
    thread.start()
    assert hung_engine["entered"].wait(10)
    return claim, thread


def _claim_within(queue: LeaseQueue, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        claim = queue.claim([backup_jobs.CREATE])
        if claim is not None:
            return claim
        time.sleep(0.05)
    return None


def test_a_stalled_job_is_taken_over_after_job_stall_seconds(sqlite_runtime, tmp_path, hung_engine):
    rt = sqlite_runtime
    backup_id = _queued_backup(rt, tmp_path, stall=1.0)
    claim, thread = _start_first_worker(rt, hung_engine)
    second = LeaseQueue(rt.db, "second", lease_seconds=LEASE)
    taken = _claim_within(second, 20)
    assert taken is not None and taken.id == claim.id
    with rt.db.reader() as session:
        job = session.get(Job, claim.id)
        assert (job.lease_owner, job.attempts) == ("second", 2)
    hung_engine["release"].set()  # the mount comes back: the first worker must let go
    thread.join(10)
    assert not thread.is_alive()
    with rt.db.reader() as session:
        assert session.get(Job, claim.id).lease_owner == "second"
    assert _get(rt, ShareBackup, backup_id).status == "creating"  # untouched: the second worker's now


def test_without_the_stall_rule_a_hung_job_keeps_its_lease(sqlite_runtime, tmp_path, hung_engine):
    """The control: with job_stall_seconds = 0 (the old behaviour) the hung job's lease is
    renewed and nobody takes it over, however long the hang."""
    rt = sqlite_runtime
    _queued_backup(rt, tmp_path, stall=0.0)
    claim, thread = _start_first_worker(rt, hung_engine)
    try:
        assert _claim_within(LeaseQueue(rt.db, "second", lease_seconds=LEASE), 2.0) is None
    finally:
        hung_engine["release"].set()
        thread.join(10)
