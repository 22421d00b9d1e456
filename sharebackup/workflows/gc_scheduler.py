"""Workers queue garbage collection on their own: one ``repository.gc`` job per repository
whenever its last collection is older than ``[backup] gc_interval_seconds`` (0: never).

Every worker process runs a scheduler thread; they agree through the database. The check and
the enqueue are one write transaction that first locks the repository's lease row (SQLite:
BEGIN IMMEDIATE; PostgreSQL: FOR UPDATE), so two schedulers never queue two jobs for one
repository. No job is queued while one is queued or running, nor within RETRY_AFTER of the
previous one (a failed collection is retried then, not on every tick). The first time a
scheduler sees a repository it only records "collected now": the first collection comes one
interval later. Running the job is the lease queue's business: a killed collector's job is
taken over like any other, and its repository lease simply runs out.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Callable

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from sharebackup.db.models import Job, RepositoryLease, utcnow
from sharebackup.workflows import backup_repository, gc_jobs
from sharebackup.workflows.periodic import Periodic
from sharebackup.queue.lease_queue import QUEUED, RUNNING, enqueue
from sharebackup.workflows.repository_lease import lock_row

LOG = logging.getLogger(__name__)

MAX_TICK = 300.0  # seconds between looks at most (and interval / 10 when that is shorter)
MAX_RETRY_AFTER = 600.0  # a collection that failed is tried again after at most this long


class GcScheduler(Periodic):
    thread_name = "sharebackup-gc-scheduler"
    failure = "scheduling garbage collection failed"

    def __init__(self, rt, wake: Callable[[], None] | None = None):
        super().__init__()
        self.rt = rt
        self.wake = wake
        self.interval = float(rt.config.backup.gc_interval_seconds)
        self.tick = min(max(self.interval / 10, 0.5), MAX_TICK)
        self.retry_after = dt.timedelta(seconds=min(self.interval, MAX_RETRY_AFTER))

    def after(self, queued) -> None:
        if queued and self.wake is not None:
            self.wake()

    def run_once(self) -> list[str]:
        """Queue the collections that are due; returns the repository names queued."""
        queued = []
        for name in backup_repository.repositories(self.rt.config):
            try:
                if self._queue_if_due(name):
                    queued.append(name)
            except IntegrityError:
                pass  # another scheduler inserted the repository's first row at the same moment
        if queued:
            LOG.info("queued garbage collection of %s", ", ".join(queued))
        return queued

    def _queue_if_due(self, name: str) -> bool:
        db = self.rt.db
        with db.transaction() as session:
            now = utcnow()
            row = lock_row(session, db, name)
            if row is None:
                session.add(RepositoryLease(name=name, last_finished_at=now))  # first sight
                return False
            if row.last_finished_at is not None and now - row.last_finished_at < dt.timedelta(seconds=self.interval):
                return False
            resource_id = name  # config.REPOSITORY_NAME keeps names within jobs.resource_id's 36 characters
            pending = session.scalars(
                select(Job.id).where(Job.kind == gc_jobs.KIND, Job.resource_id == resource_id,
                                     or_(Job.state.in_([QUEUED, RUNNING]), Job.created_at > now - self.retry_after))
                .limit(1)).first()
            if pending is not None:
                return False
            enqueue(session, gc_jobs.KIND, resource_id, {"repository": name},
                    max_attempts=self.rt.config.backup.job_max_attempts)
            return True


def start_gc_scheduler(rt, wake: Callable[[], None] | None = None) -> GcScheduler | None:
    """The scheduler thread of a worker process, or None when automatic gc is off."""
    if float(rt.config.backup.gc_interval_seconds) <= 0:
        return None
    return GcScheduler(rt, wake).start()
