"""Finished job rows are purged after [backup] job_retention_seconds, by an idle worker thread."""
from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import select, update

from sharebackup.db.models import Job, utcnow
from sharebackup.queue import job_retention
from sharebackup.queue.lease_queue import LeaseQueue, enqueue
from sharebackup.queue.worker_pool import WorkerPool


def _jobs(rt) -> dict[str, str]:
    with rt.db.reader() as session:
        return {job.resource_id: job.state for job in session.scalars(select(Job))}


def _add(rt, resource_id: str, state: str, age_seconds: float) -> None:
    with rt.db.transaction() as session:
        job = enqueue(session, "test.kind", resource_id)
        session.flush()
        job_id = job.id
    with rt.db.transaction() as session:
        session.execute(update(Job).where(Job.id == job_id).values(
            state=state, updated_at=utcnow() - dt.timedelta(seconds=age_seconds)))


def test_only_old_finished_jobs_go(runtime):
    rt = runtime
    _add(rt, "old-done", "done", 3600)
    _add(rt, "old-failed", "failed", 3600)
    _add(rt, "new-done", "done", 10)
    _add(rt, "old-running", "running", 3600)  # a dead worker's job: taken over, never purged
    _add(rt, "old-queued", "queued", 3600)
    assert job_retention.purge_finished(rt.db, 600) == 2
    assert _jobs(rt) == {"new-done": "done", "old-running": "running", "old-queued": "queued"}


def test_purge_works_in_batches(sqlite_runtime):
    rt = sqlite_runtime
    for number in range(25):
        _add(rt, f"job-{number}", "done", 3600)
    assert job_retention.purge_finished(rt.db, 600, batch=10, max_batches=2) == 20  # bounded per call
    assert job_retention.purge_finished(rt.db, 600, batch=10) == 5
    assert _jobs(rt) == {}


def test_retention_zero_keeps_everything(sqlite_runtime):
    from dataclasses import replace
    rt = sqlite_runtime
    rt.config = replace(rt.config, backup=replace(rt.config.backup, job_retention_seconds=0.0))
    assert job_retention.idle_task(rt) is None


def test_an_idle_pool_runs_the_purge_once_per_interval(sqlite_runtime):
    rt = sqlite_runtime
    _add(rt, "old-done", "done", 10 * 86400)  # older than the default week
    calls = []

    def task():
        calls.append(time.monotonic())
        return job_retention.idle_task(rt)()

    pool = WorkerPool(lambda owner: LeaseQueue(rt.db, owner, 30.0), {"test.kind": lambda c, h: None},
                      threads=2, poll_seconds=0.01, idle_task=task, idle_every=3600.0)
    pool.start()
    try:
        deadline = time.monotonic() + 30
        while "old-done" in _jobs(rt):
            assert time.monotonic() < deadline, "the idle pool never purged"
            time.sleep(0.02)
        time.sleep(0.2)  # many idle polls later ...
    finally:
        pool.stop()
    assert len(calls) == 1  # ... still once: at most every idle_every seconds, by one thread
