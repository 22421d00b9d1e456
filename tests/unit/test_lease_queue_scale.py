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
from sharebackup.jobs import backup_jobs
from sharebackup.jobs.lease_queue import DONE, FAILED, QUEUED, LeaseQueue, enqueue
from sharebackup.jobs.runners import build_runners
from sharebackup.jobs.worker_pool import WorkerPool
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
