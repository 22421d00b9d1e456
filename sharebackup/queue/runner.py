"""The one contract of a job's runner, which the worker pool calls.

A runner is called with ``(claim, heartbeat)`` and returns a metrics.JobResult, a
lease_queue.Later (queue the job again, no attempt spent) or None; ``give_up(claim, reason)``
puts the job's resource into its failed state when the job ends without the runner (its
attempts ran out, or the runner raised); ``log_ids(claim)`` names extra ids for the job's log
lines. Anything else callable (a test's fake runner) is adapted once by ``as_runner``.

Runners of a row with a status subclass StatusRunner, which holds the rules once: load the
row; do nothing unless it still waits in one of ``expect`` (an admin may have reset it, or
the work is done); ``work``; write an end state only while the row is still waiting
(``finish``); on a failure, and on ``give_up``, move it to ``failed``. A job whose lease was
lost (heartbeat False, LeaseLost) stops without touching the row: it is another worker's now.
"""
from __future__ import annotations

import logging
from typing import Callable

from sharebackup.core.lease_keeper import LeaseLost
from sharebackup.core.runtime import Runtime
from sharebackup.db.models import utcnow

LOG = logging.getLogger(__name__)


class JobRunner:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def __call__(self, claim, heartbeat: Callable[[], bool]):  # pragma: no cover - abstract
        raise NotImplementedError

    def give_up(self, claim, reason: str) -> None:
        """The job ends without its work done: leave its resource clearly failed (default: nothing to mark)."""

    def log_ids(self, claim) -> dict:
        return {}


class StatusRunner(JobRunner):
    model: type = None  # the ORM class of the job's resource
    expect: tuple[str, ...] = ()  # the statuses the job was queued for
    failed = "error"  # the status a failure leaves

    def __call__(self, claim, heartbeat):
        row = self.load(claim.resource_id)
        if not self.waiting(row):
            return None  # reset, deleted or done already: nothing left to do
        try:
            return self.work(row, claim, heartbeat)
        except LeaseLost:
            raise  # another worker has the job now; the row is its business
        except Exception as exc:
            LOG.exception("job %s for %s failed", claim.kind, claim.resource_id)
            self.fail(claim, f"{type(exc).__name__}: {exc}")
            return None

    def work(self, row, claim, heartbeat):  # pragma: no cover - abstract
        raise NotImplementedError

    def load(self, resource_id: str):
        with self.rt.db.reader() as session:
            return session.get(self.model, resource_id)

    def waiting(self, row) -> bool:
        return row is not None and not row.deleted and row.status in self.expect

    def finish(self, resource_id: str, apply: Callable) -> bool:
        """``apply(session, row)`` in one transaction, only while the row still waits; True if it did."""
        with self.rt.db.transaction() as session:
            row = session.get(self.model, resource_id)
            if not self.waiting(row):
                return False
            apply(session, row)
            row.updated_at = utcnow()
            return True

    def give_up(self, claim, reason: str) -> None:
        self.fail(claim, reason)

    def fail(self, claim, reason: str) -> None:
        def failed(session, row):
            LOG.warning("%s %s: %s -> %s (%s)", self.model.__tablename__, row.id, row.status, self.failed, reason)
            row.status = self.failed
        self.finish(claim.resource_id, failed)


class _Adapted(JobRunner):
    """Something callable that is no JobRunner (a test's fake): its own give_up and log_ids
    when it has them, else the defaults."""

    def __init__(self, func: Callable):
        self.func = func

    def __call__(self, claim, heartbeat):
        return self.func(claim, heartbeat)

    def give_up(self, claim, reason: str) -> None:
        if hasattr(self.func, "give_up"):
            self.func.give_up(claim, reason)

    def log_ids(self, claim) -> dict:
        return self.func.log_ids(claim) if hasattr(self.func, "log_ids") else {}


def as_runner(runner) -> JobRunner:
    """A JobRunner as it is; anything else callable adapted once, where the pool takes its runners."""
    return runner if isinstance(runner, JobRunner) else _Adapted(runner)
