"""Garbage collection of a configured repository under its database lease: backup jobs held back
while gc holds it, gc waiting for running backups, the margin check, orphan snapshots, the gc job
and the scheduler that queues it (SQLite and PostgreSQL where the database matters)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import threading
import uuid

import pytest
from sqlalchemy import select, update

from sharebackup import engine
from sharebackup.db.models import Job, RepositoryLease, Share, ShareBackup, utcnow
from sharebackup.workflows import backup_repository, gc_jobs, gc_scheduler, repository_lease as leases
from sharebackup.workflows.backup_jobs import CREATE, DELETE, RESTORE, runners as backup_runners
from sharebackup.queue.lease_queue import Claim, LeaseQueue, Later, enqueue
from tests.unit.test_backup_jobs import _backup, _create, _get, _set, _share


def _with_backup(rt, **options):
    rt.config = dataclasses.replace(rt.config, backup=dataclasses.replace(rt.config.backup, **options))
    return rt


def _jobs(rt, kind=None):
    with rt.db.reader() as session:
        query = select(Job).order_by(Job.created_at)
        if kind:
            query = query.where(Job.kind == kind)
        return list(session.scalars(query))


def _work(rt, kind, resource_id, payload):
    """Queue a job and run it once as a worker does: claim, run, and queue it again if the
    runner answers Later (else complete it)."""
    with rt.db.transaction() as session:
        enqueue(session, kind, resource_id, payload)
    queue = LeaseQueue(rt.db, f"w-{resource_id[:8]}")
    claim = queue.claim([kind])
    _finish_as_a_worker(queue, claim, backup_runners(rt)[kind](claim, lambda: queue.heartbeat(claim.id)))


def _finish_as_a_worker(queue, claim, result):
    if isinstance(result, Later):
        assert queue.retry_later(claim.id, result)
    else:
        queue.complete(claim.id)


def _run_queued(rt):
    """Run every queued job once, as a worker would (ignoring not_before)."""
    runners = backup_runners(rt)
    for job in _jobs(rt):
        if job.state == "queued":
            with rt.db.transaction() as session:
                session.execute(update(Job).where(Job.id == job.id).values(state="done"))
            runners[job.kind](Claim(job.id, job.kind, job.resource_id, dict(job.payload), 1, False), lambda: True)


def _files(path, count=3, size=300_000):
    os.makedirs(path, exist_ok=True)
    for i in range(count):
        with open(os.path.join(path, f"f{i}"), "wb") as f:
            f.write(os.urandom(size))
    return path


def test_backup_jobs_wait_while_gc_holds_the_repository_and_run_after(runtime, tmp_path):
    rt = runtime
    share_id = _share(rt, _files(tmp_path / "share"))
    to_restore, to_delete = _create(rt, share_id), _create(rt, share_id)
    leases.acquire(rt.db, "default", "gc-elsewhere", "gc", 600)

    _set(rt, Share, share_id, status="backup_creating")
    new = _backup(rt, share_id)
    _work(rt, CREATE, new, {"share_id": share_id, "backup_options": {}})
    _set(rt, Share, share_id, status="backup_restoring")
    _set(rt, ShareBackup, to_restore, status="restoring")
    _work(rt, RESTORE, to_restore, {"share_id": share_id})
    _set(rt, ShareBackup, to_delete, status="deleting")
    _work(rt, DELETE, to_delete, {})

    # nothing was started: states untouched, each job queued again for later, no attempt counted
    assert (_get(rt, ShareBackup, new).status, _get(rt, ShareBackup, new).host) == ("creating", None)
    assert _get(rt, ShareBackup, to_restore).status == "restoring"
    assert _get(rt, ShareBackup, to_delete).status == "deleting"
    queued = _jobs(rt)
    assert sorted((j.kind, j.resource_id) for j in queued) == sorted(
        [(CREATE, new), (RESTORE, to_restore), (DELETE, to_delete)])
    now = utcnow()
    for job in queued:
        assert job.state == "queued" and job.attempts == 0 and job.not_before > now
        assert "lock_retries" not in job.payload
    repo = backup_repository.open_repository(rt.config, "default")
    assert len(repo.snapshot_ids()) == 2  # the new backup did not write anything

    leases.release(rt.db, "default", "gc-elsewhere")
    _run_queued(rt)
    assert _get(rt, ShareBackup, new).status == "available"
    assert _get(rt, ShareBackup, to_restore).status == "available"
    assert _get(rt, ShareBackup, to_delete).deleted
    assert _get(rt, Share, share_id).status == "available"


def test_runs_that_died_stay_counted_when_gc_holds_the_job_back(sqlite_runtime, tmp_path):
    """Queued again for gc costs no attempt, but a run a dead worker left is not given back:
    a backup killed twice, then held back, may start once more (job_max_attempts = 3)."""
    rt = _with_backup(sqlite_runtime, job_max_attempts=3)
    share_id = _share(rt, _files(tmp_path / "share"))
    _set(rt, Share, share_id, status="backup_creating")
    backup_id = _backup(rt, share_id)
    with rt.db.transaction() as session:
        first = enqueue(session, CREATE, backup_id, {"share_id": share_id, "backup_options": {}}, max_attempts=3)
        session.flush()
        first_id = first.id
    queue = LeaseQueue(rt.db, "w", lease_seconds=0.0)  # every lease has run out at once: a dead worker
    claims = [queue.claim(), queue.claim()]
    assert [(c.id, c.attempt, c.taken_over) for c in claims] == [(first_id, 1, False), (first_id, 2, True)]
    leases.acquire(rt.db, "default", "gc-elsewhere", "gc", 600)
    # the second run meets gc and puts the work off: this run is given back, the dead one is not
    _finish_as_a_worker(queue, claims[1], backup_runners(rt)[CREATE](claims[1], lambda: True))
    leases.release(rt.db, "default", "gc-elsewhere")
    with rt.db.transaction() as session:
        session.execute(update(Job).where(Job.id == first_id).values(not_before=None))
    (again,) = _jobs(rt, CREATE)
    assert (again.id, again.state, again.attempts, again.max_attempts) == (first_id, "queued", 1, 3)

    runs = [queue.claim(), queue.claim(), queue.claim()]  # two more starts, then it is given up
    assert [(c.id, c.attempt, c.give_up) for c in runs] == [(first_id, 2, False), (first_id, 3, False),
                                                             (first_id, 3, True)]

    # a job that only ever met gc keeps its whole budget
    fresh = _backup(rt, share_id)
    leases.acquire(rt.db, "default", "gc-elsewhere", "gc", 600)
    _work(rt, CREATE, fresh, {"share_id": share_id, "backup_options": {}})
    (held,) = [j for j in _jobs(rt, CREATE) if j.resource_id == fresh]
    assert (held.attempts, held.max_attempts) == (0, 3)


def test_gc_waits_for_a_running_backup_then_collects(sqlite_runtime, tmp_path):
    rt = sqlite_runtime
    share_id = _share(rt, _files(tmp_path / "share"))
    gone = _create(rt, share_id)
    _set(rt, ShareBackup, gone, status="deleting")
    backup_runners(rt)[DELETE](Claim("j", DELETE, gone, {}, 1, False), lambda: True)
    repo = backup_repository.open_repository(rt.config, "default")
    packs_before = len(list(repo.store.list("data/")))
    running = repo.lock(exclusive=False, purpose="backup")  # a backup in progress
    result, failure = {}, []

    def run():
        try:
            result.update(gc_jobs.collect(rt, "default", grace=0, wait=120))
        except Exception as exc:  # noqa: BLE001 - reported below
            failure.append(exc)

    collector = threading.Thread(target=run)
    collector.start()
    for _ in range(500):
        if leases.held_by_other(rt.db, "default") is not None:
            break
        threading.Event().wait(0.02)
    holder = leases.held_by_other(rt.db, "default")
    assert holder is not None and holder.purpose == "gc"
    assert collector.is_alive() and result == {}  # it cannot collect while the backup holds its lock
    assert leases.last_finished(rt.db, "default") is None
    running.release()
    collector.join(120)
    assert failure == [] and result["packs_deleted"] >= 1
    assert len(list(repo.store.list("data/"))) < packs_before
    assert leases.held_by_other(rt.db, "default") is None
    assert leases.last_finished(rt.db, "default") is not None


def test_gc_that_cannot_drain_in_time_gives_up_cleanly(sqlite_runtime, tmp_path):
    rt = sqlite_runtime
    _create(rt, _share(rt, _files(tmp_path / "share", count=1)))
    repo = backup_repository.open_repository(rt.config, "default")
    running = repo.lock(exclusive=False, purpose="backup")
    try:
        with pytest.raises(gc_jobs.GcNotDone, match="still held it after 0 s"):
            gc_jobs.collect(rt, "default", grace=0, wait=0)
    finally:
        running.release()
    assert leases.held_by_other(rt.db, "default") is None
    assert leases.last_finished(rt.db, "default") is None


def test_margin_check_stops_gc_before_it_deletes_anything(sqlite_runtime, tmp_path, monkeypatch):
    rt = sqlite_runtime
    share_id = _share(rt, _files(tmp_path / "share"))
    gone = _create(rt, share_id)
    _set(rt, ShareBackup, gone, status="deleting")
    backup_runners(rt)[DELETE](Claim("j", DELETE, gone, {}, 1, False), lambda: True)
    repo = backup_repository.open_repository(rt.config, "default")
    before = {i.name for i in repo.store.list("data/")}
    monkeypatch.setattr(leases.HeldLease, "remaining", lambda self: self.seconds * leases.MARGIN * 0.9)
    with pytest.raises(gc_jobs.GcNotDone, match="stopped safely"):
        gc_jobs.collect(rt, "default", grace=0)
    assert {i.name for i in repo.store.list("data/")} == before
    assert leases.last_finished(rt.db, "default") is None
    assert engine.check(repo, read_data=True).ok


def test_orphan_snapshots_are_forgotten_only_without_a_live_row_and_past_the_grace(runtime, tmp_path):
    rt = runtime
    share_id = _share(rt, _files(tmp_path / "share", count=2, size=50_000))
    kept = _create(rt, share_id)
    deleted_row = _create(rt, share_id)
    _set(rt, ShareBackup, deleted_row, deleted=True, status="deleted")  # row deleted, snapshot left behind
    repo = backup_repository.open_repository(rt.config, "default")
    src = str(tmp_path / "share")
    no_row = engine.backup(repo, src, tags=[str(uuid.uuid4())])  # a row that never came (or was purged)
    creating = _backup(rt, share_id)  # manifest written, row not updated yet
    just_written = engine.backup(repo, src, tags=[creating])
    leftover = engine.backup(repo, src, tags=[kept])  # a re-run job's first snapshot
    manual = engine.backup(repo, src, tags=["weekly"])  # made with `sharebackup repo backup`
    snap = {b: _get(rt, ShareBackup, b).engine_snapshot_id for b in (kept, deleted_row)}

    stats = gc_jobs.collect(rt, "default", grace=3600)
    assert stats["snapshots_forgotten"] == 0  # all younger than the grace

    stats = gc_jobs.collect(rt, "default", grace=0)
    remaining = set(backup_repository.open_repository(rt.config, "default").snapshot_ids())
    assert remaining == {snap[kept], just_written, manual}
    assert {snap[deleted_row], no_row, leftover}.isdisjoint(remaining)
    assert stats["snapshots_forgotten"] == 3
    assert engine.check(repo, read_data=True).ok


def test_gc_job_runs_a_collection_and_skips_when_someone_else_collects(sqlite_runtime, tmp_path):
    rt = sqlite_runtime
    share_id = _share(rt, _files(tmp_path / "share", count=1))
    _create(rt, share_id)
    run = gc_jobs.runners(rt)[gc_jobs.KIND]
    with rt.db.transaction() as session:
        job = enqueue(session, gc_jobs.KIND, "default", {"repository": "default"})
    leases.acquire(rt.db, "default", "admin-cli", "gc", 600)
    run(Claim(job.id, gc_jobs.KIND, "default", {"repository": "default"}, 1, False), lambda: True)
    assert leases.held_by_other(rt.db, "default").holder == "admin-cli"  # left alone
    assert leases.last_finished(rt.db, "default") is None
    leases.release(rt.db, "default", "admin-cli")
    run(Claim(job.id, gc_jobs.KIND, "default", {"repository": "default"}, 1, False), lambda: True)
    finished = leases.last_finished(rt.db, "default")
    assert finished is not None
    run(Claim(job.id, gc_jobs.KIND, "default", {"repository": "default"}, 1, False), lambda: True)
    assert leases.last_finished(rt.db, "default") == finished  # collected since it was queued: skipped


def test_gc_of_a_repository_that_does_not_exist_yet_records_a_collection(sqlite_runtime):
    rt = sqlite_runtime
    assert gc_jobs.collect(rt, "default") == {}
    assert not (rt.config.repository_path / "config").exists()  # not created by gc
    assert leases.last_finished(rt.db, "default") is not None
    with pytest.raises(backup_repository.UnknownRepository, match="not configured"):
        gc_jobs.collect(rt, "nowhere")


def test_scheduler_queues_one_gc_per_due_repository(runtime, tmp_path):
    rt = _with_backup(runtime, gc_interval_seconds=3600.0,
                      repositories=[f"offsite={tmp_path / 'offsite'}", f"{'x' * 32}={tmp_path / 'long'}"])
    scheduler = gc_scheduler.GcScheduler(rt)
    assert scheduler.run_once() == []  # first sight: the first collection comes one interval later
    with rt.db.reader() as session:
        assert len(session.scalars(select(RepositoryLease)).all()) == 3
    assert scheduler.run_once() == []
    with rt.db.transaction() as session:
        session.execute(update(RepositoryLease).where(RepositoryLease.name.in_(["offsite", "x" * 32]))
                        .values(last_finished_at=utcnow() - dt.timedelta(hours=2)))
    assert sorted(scheduler.run_once()) == ["offsite", "x" * 32]
    assert scheduler.run_once() == []  # already queued
    jobs = _jobs(rt, gc_jobs.KIND)
    assert len(jobs) == 2 and {j.payload["repository"] for j in jobs} == {"offsite", "x" * 32}
    assert {j.resource_id for j in jobs} == {"offsite", "x" * 32}
    with rt.db.transaction() as session:  # the jobs failed (say): not again before the retry delay
        session.execute(update(Job).where(Job.kind == gc_jobs.KIND).values(state="failed"))
    assert scheduler.run_once() == []
    with rt.db.transaction() as session:
        session.execute(update(Job).where(Job.kind == gc_jobs.KIND)
                        .values(created_at=utcnow() - dt.timedelta(hours=1)))
    assert sorted(scheduler.run_once()) == ["offsite", "x" * 32]


def test_concurrent_schedulers_queue_exactly_one_job(runtime):
    rt = _with_backup(runtime, gc_interval_seconds=60.0)
    gc_scheduler.GcScheduler(rt).run_once()
    with rt.db.transaction() as session:
        session.execute(update(RepositoryLease).values(last_finished_at=utcnow() - dt.timedelta(hours=1)))
    start, errors = threading.Barrier(6), []

    def schedule():
        start.wait()
        try:
            gc_scheduler.GcScheduler(rt).run_once()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=schedule) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(_jobs(rt, gc_jobs.KIND)) == 1


def test_automatic_gc_off_and_a_worker_claims_the_gc_job(sqlite_runtime):
    rt = _with_backup(sqlite_runtime, gc_interval_seconds=0.0)
    assert gc_scheduler.start_gc_scheduler(rt) is None
    rt = _with_backup(sqlite_runtime, gc_interval_seconds=3600.0)
    with rt.db.transaction() as session:
        enqueue(session, gc_jobs.KIND, "default", {"repository": "default"})
    from sharebackup.workflows.runners import build_runners
    claim = LeaseQueue(rt.db, "w").claim(list(build_runners(rt)))
    assert claim is not None and claim.kind == gc_jobs.KIND
