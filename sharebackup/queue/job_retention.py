"""Finished job rows are deleted after ``[backup] job_retention_seconds`` (0: kept for ever).

The job table is the queue, and every backup, restore, delete and gc leaves a finished row (a
job that waited for gc leaves one per wait). Nothing reads finished rows after a while: the
resources carry their own states and user messages. Idle worker threads purge them in small
batches (WorkerPool's idle task), so no single statement holds many row locks.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Callable

from sqlalchemy import delete, select

from sharebackup.db.models import Job, utcnow
from sharebackup.queue.lease_queue import DONE, FAILED

LOG = logging.getLogger(__name__)

BATCH = 500
MAX_BATCHES = 20  # per call: an idle thread goes back to claiming soon
EVERY_SECONDS = 300.0


def purge_finished(db, older_than_seconds: float, batch: int = BATCH, max_batches: int = MAX_BATCHES) -> int:
    """Delete done and failed jobs last changed more than ``older_than_seconds`` ago; returns how many."""
    cutoff = utcnow() - dt.timedelta(seconds=older_than_seconds)
    finished_before = ((Job.state.in_((DONE, FAILED)))
                       & (Job.updated_at.is_not(None)) & (Job.updated_at < cutoff))
    removed = 0
    for _ in range(max_batches):
        with db.transaction() as session:
            ids = list(session.scalars(select(Job.id).where(finished_before).limit(batch)))
            if ids:
                session.execute(delete(Job).where(Job.id.in_(ids), finished_before))
        removed += len(ids)
        if len(ids) < batch:
            break
    if removed:
        LOG.info("deleted %d finished job(s) older than %g s", removed, older_than_seconds)
    return removed


def idle_task(rt) -> Callable[[], int] | None:
    """What a worker pool runs when idle, or None when finished jobs are kept."""
    seconds = float(rt.config.backup.job_retention_seconds)
    if seconds <= 0:
        return None
    return lambda: purge_finished(rt.db, seconds)
