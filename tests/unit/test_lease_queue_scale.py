"""The lease queue at scale: configurable attempts (and the give-up path when workers keep dying),
a per-worker limit on backup/restore operations, availability-zone-bound workers, and
concurrent claimers on PostgreSQL."""
from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
from sqlalchemy import select

from sharebackup.db.models import Job, Message, Share, ShareBackup
from sharebackup.workflows import backup_jobs
from sharebackup.queue.lease_queue import DONE, FAILED, QUEUED, LeaseQueue, enqueue
from sharebackup.workflows.runners import build_runners
from sharebackup.queue.worker_pool import WorkerPool
from sharebackup.services import share_backups as service
from tests.unit.test_share_backups_service import _request, _share, demo


def _configure(rt, **backup):
    rt.config = replace(rt.config, backup=replace(rt.config.backup, **backup))


def _wait(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _row(rt, model, row_id):
    with rt.db.reader() as session:
        return session.get(model, row_id)


def _job(rt, backup_id, kind):
    with rt.db.reader() as session:
        return session.scalars(select(Job).where(Job.resource_id == backup_id, Job.kind == kind)).one()


# -- 1. configurable attempts, and the give-up path -------------------------------------------------

def test_job_max_attempts_reaches_every_backup_job(sqlite_runtime):
    rt = sqlite_runtime
    assert rt.config.backup.job_max_attempts == 3
    _configure(rt, job_max_attempts=5)
    backup = service.create(rt, demo(), _request(_share(rt)))
    assert _job(rt, backup.id, backup_jobs.CREATE).max_attempts == 5


def test_a_config_of_zero_attempts_is_refused(tmp_path):
    from sharebackup.config import ConfigError, load_config
    with pytest.raises(ConfigError, match="job_max_attempts"):
        load_config(None, environ={"SHAREBACKUP_BACKUP__JOB_MAX_ATTEMPTS": "0"}, state_dir=str(tmp_path))


@pytest.mark.parametrize("operation", ["create", "restore"])
def test_a_job_whose_workers_keep_dying_is_given_up_with_a_message(runtime, operation):
    """Claim, let the lease run out without completing, N times: the next claim gives up, and the
    runner's give_up leaves the backup/share in the failed state with a user message."""
    rt = runtime
    attempts = 2
    _configure(rt, job_max_attempts=attempts, job_lease_seconds=0.05)
    share_id = _share(rt)
    if operation == "create":
        backup_id, kind = service.create(rt, demo(), _request(share_id)).id, backup_jobs.CREATE
    else:
        with rt.db.transaction() as session:
            backup = ShareBackup(user_id="demo", project_id="demo", share_id=share_id, size=1,
                                 status="available", progress="100", restore_progress="0",
                                 engine_snapshot_id="0" * 64, repository="default")
            session.add(backup)
            session.flush()
            backup_id = backup.id
        service.restore(rt, demo(), backup_id, None)
        kind = backup_jobs.RESTORE
    for number in range(1, attempts + 1):
        dead = LeaseQueue(rt.db, f"dying-worker-{number}", lease_seconds=0.05)
        claim = dead.claim([kind])
        assert (claim.resource_id, claim.attempt, claim.give_up) == (backup_id, number, False)
        time.sleep(0.1)  # ... and the worker dies: no heartbeat, no completion
    backup = _row(rt, ShareBackup, backup_id)
    assert backup.status == ("creating" if operation == "create" else "restoring")

    pool = WorkerPool(lambda owner: LeaseQueue(rt.db, owner, 30), build_runners(rt), threads=1,
                      poll_seconds=0.02)
    pool.start()
    try:
        _wait(lambda: _job(rt, backup_id, kind).state == FAILED)
    finally:
        pool.stop()
    job = _job(rt, backup_id, kind)
    assert (job.attempts, job.last_error) == (attempts, "attempts exhausted")
    backup, share = _row(rt, ShareBackup, backup_id), _row(rt, Share, share_id)
    with rt.db.reader() as session:
        messages = list(session.scalars(select(Message)))
    assert len(messages) == 1
    assert "interrupted too many times" in messages[0].user_message
    if operation == "create":
        assert (backup.status, share.status) == ("error", "available")
        assert "interrupted too many times" in backup.fail_reason
        assert messages[0].resource_id == backup_id
    else:
        assert (backup.status, share.status) == ("available", "backup_restoring_error")
        assert messages[0].resource_id == share_id


# -- 2. at most [backup] max_operations backup/restore jobs per worker process ------------------------

def _concurrency_runners(kinds, hold=0.3):
    """Runners that record how many jobs (and how many of each kind) run at once."""
    lock = threading.Lock()
    running: dict[str, int] = {}
    peaks = {"all": 0, "limited": 0, "others_beside_limited": 0}
    done = []

    def make(kind):
        def run(claim, heartbeat):
            with lock:
                running[kind] = running.get(kind, 0) + 1
                limited = running.get(backup_jobs.CREATE, 0) + running.get(backup_jobs.RESTORE, 0)
                peaks["all"] = max(peaks["all"], sum(running.values()))
                peaks["limited"] = max(peaks["limited"], limited)
                if limited:
                    peaks["others_beside_limited"] = max(peaks["others_beside_limited"],
                                                         sum(running.values()) - limited)
            time.sleep(hold)
            with lock:
                running[kind] -= 1
                done.append(claim.id)
        return run
    return {kind: make(kind) for kind in kinds}, peaks, done


@pytest.mark.parametrize("limit", [1, 2])
def test_a_worker_runs_at_most_max_operations_backups_at_once(sqlite_runtime, limit):
    from sharebackup.workflows.worker_host import WorkerHost as Worker
    rt = sqlite_runtime
    _configure(rt, max_operations=limit)
    kinds = [backup_jobs.CREATE, backup_jobs.RESTORE, backup_jobs.DELETE, "test.share"]
    runners, peaks, done = _concurrency_runners(kinds)
    with rt.db.transaction() as session:
        for number in range(4):
            enqueue(session, backup_jobs.CREATE, f"backup-{number}")
        enqueue(session, backup_jobs.RESTORE, "backup-restore")
        for number in range(4):
            enqueue(session, "test.share", f"share-{number}")
    worker = Worker(rt, threads=4, grace=2, runners=runners, poll_seconds=0.02)
    worker.start()
    try:
        _wait(lambda: len(done) == 9)
    finally:
        worker.stop()
    assert peaks["limited"] == limit  # never more, even with 4 threads, and the limit is used
    assert peaks["others_beside_limited"] >= 1  # share jobs ran while a backup held the slot(s)
    with rt.db.reader() as session:
        assert set(session.scalars(select(Job.state))) == {DONE}


def test_no_limit_by_default(sqlite_runtime):
    from sharebackup.workflows.worker_host import WorkerHost as Worker
    rt = sqlite_runtime
    assert rt.config.backup.max_operations == 0
    runners, peaks, done = _concurrency_runners([backup_jobs.CREATE], hold=0.5)
    with rt.db.transaction() as session:
        for number in range(3):
            enqueue(session, backup_jobs.CREATE, f"backup-{number}")
    worker = Worker(rt, threads=3, grace=2, runners=runners, poll_seconds=0.02)
    worker.start()
    try:
        _wait(lambda: len(done) == 3)
    finally:
        worker.stop()
    assert peaks["limited"] == 3


def test_a_slot_is_given_back_when_the_job_failed(sqlite_runtime):
    from sharebackup.workflows.claim_limits import queue_factory
    rt = sqlite_runtime
    _configure(rt, max_operations=1)
    with rt.db.transaction() as session:
        for number in range(2):
            enqueue(session, backup_jobs.CREATE, f"backup-{number}")
        enqueue(session, "test.share", "share")
    make = queue_factory(rt)
    first, second = make("thread-1"), make("thread-2")
    assert first.claim([backup_jobs.CREATE, "test.share"]).kind == backup_jobs.CREATE
    # the slot is taken: the other thread gets the share job, then nothing
    assert second.claim([backup_jobs.CREATE, "test.share"]).kind == "test.share"
    assert second.claim([backup_jobs.CREATE, "test.share"]) is None
    # the first thread's job ended (however): its next claim gives the slot back and takes it again
    assert first.claim([backup_jobs.CREATE, "test.share"]).kind == backup_jobs.CREATE


# -- 3. availability-zone-bound workers -------------------------------------------------------------

def _zone_share(rt, zone) -> str:
    share_id = _share(rt)
    with rt.db.transaction() as session:
        session.get(Share, share_id).availability_zone = zone
    return share_id


def test_jobs_carry_the_zone_of_their_share(runtime):
    rt = runtime
    source, target = _zone_share(rt, "az1"), _zone_share(rt, "az2")
    backup = service.create(rt, demo(), _request(source))
    assert _job(rt, backup.id, backup_jobs.CREATE).availability_zone == "az1"
    with rt.db.transaction() as session:
        session.get(ShareBackup, backup.id).status = "available"
        session.get(Share, source).status = "available"
    from sharebackup.core.context import RequestContext
    service.restore(rt, RequestContext.admin(), backup.id, target)
    assert _job(rt, backup.id, backup_jobs.RESTORE).availability_zone == "az2"  # where the files go
    with rt.db.transaction() as session:
        session.get(ShareBackup, backup.id).status = "available"
    service.delete(rt, demo(), backup.id)
    assert _job(rt, backup.id, backup_jobs.DELETE).availability_zone == "az1"  # the backup's zone


def test_a_zone_bound_worker_claims_only_jobs_of_its_zone(runtime):
    from sharebackup.workflows.claim_limits import queue_factory
    rt = runtime
    in_az1 = service.create(rt, demo(), _request(_zone_share(rt, "az1"))).id
    in_az2 = service.create(rt, demo(), _request(_zone_share(rt, "az2"))).id
    with rt.db.transaction() as session:
        enqueue(session, "test.share", "no-zone")
    kinds = [backup_jobs.CREATE, "test.share"]
    _configure(rt, worker_availability_zone="az2")
    az2 = queue_factory(rt)("az2-worker")
    assert {az2.claim(kinds).resource_id, az2.claim(kinds).resource_id} == {in_az2, "no-zone"}
    assert az2.claim(kinds) is None  # the az1 backup is not for this worker
    _configure(rt, worker_availability_zone="")
    anywhere = queue_factory(rt)("any-worker")
    assert anywhere.claim(kinds).resource_id == in_az1
    with rt.db.reader() as session:
        assert session.scalar(select(Job.state).where(Job.resource_id == in_az1)) == "running"


# -- 4. concurrent claimers on PostgreSQL (FOR UPDATE SKIP LOCKED) -------------------------------------

@pytest.mark.postgres
def test_concurrent_claimers_on_postgresql_take_every_job_exactly_once(tmp_path):
    from tests.conftest import create_pg_database, drop_pg_database, make_runtime, require_pg
    require_pg()
    url = create_pg_database()
    rt = make_runtime(tmp_path / "state", url)
    try:
        with rt.db.transaction() as session:
            for number in range(200):
                enqueue(session, "test.job", f"resource-{number}")
        claimed: dict[str, list[str]] = {}
        errors: list[BaseException] = []
        start = threading.Barrier(4)

        def claimer(number):
            queue = LeaseQueue(rt.db, f"owner-{number}")
            mine = claimed.setdefault(queue.owner, [])
            try:
                start.wait()
                while (claim := queue.claim(["test.job"])) is not None:
                    mine.append(claim.id)
                    queue.complete(claim.id)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=claimer, args=(number,)) for number in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not errors, errors
        every = [job_id for ids in claimed.values() for job_id in ids]
        assert len(every) == 200 and len(set(every)) == 200  # each job claimed exactly once
        assert sum(1 for ids in claimed.values() if ids) > 1  # the claimers really competed
        with rt.db.reader() as session:
            rows = list(session.execute(select(Job.id, Job.state, Job.attempts, Job.lease_owner)))
        assert len(rows) == 200 and set(every) == {row.id for row in rows}  # none lost
        assert {(row.state, row.attempts) for row in rows} == {(DONE, 1)}
        owner_of = {job_id: owner for owner, ids in claimed.items() for job_id in ids}
        assert all(owner_of[row.id] == row.lease_owner for row in rows)
        assert QUEUED not in {row.state for row in rows}
    finally:
        rt.db.dispose()
        drop_pg_database(url)
