"""The lease queue: the job row is the queue, no broker.

- enqueue() runs inside the caller's transaction, so a job exists iff its state change does.
- claim() takes the oldest runnable job: queued, or running with an expired lease (its
  worker died). PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: the write transaction is
  BEGIN IMMEDIATE, which already serialises claimers.
- A job whose attempts are used up is handed back with ``give_up=True`` so its runner
  can put the resource into a clear failed state instead of leaving it stuck.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from sharebackup.db.database import Database
from sharebackup.db.models import Job, utcnow
from sharebackup.core.text import display_text

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


@dataclass(frozen=True)
class Claim:
    id: str
    kind: str
    resource_id: str
    payload: dict
    attempt: int
    give_up: bool
    taken_over: bool = False  # it was running with an expired lease (its worker died or hung)


@dataclass(frozen=True)
class Later:
    """A runner's answer "not now" (the repository is locked, or gc holds it): the same job goes
    back in the queue for ``delay_seconds``, with ``payload`` if given, and this run costs no
    attempt. Runs that dead workers left behind stay counted, so job_max_attempts bounds the
    work however often the job is put off."""
    delay_seconds: float
    reason: str
    payload: dict | None = None


def enqueue(session: Session, kind: str, resource_id: str, payload: dict | None = None,
            max_attempts: int = 3, availability_zone: str | None = None) -> Job:
    """``availability_zone``: only workers of that zone (or of any zone) may run the job."""
    job = Job(kind=kind, resource_id=resource_id, payload=dict(payload or {}), state=QUEUED,
              max_attempts=max_attempts, availability_zone=availability_zone or None)
    session.add(job)
    return job


def wait_holding_lease(seconds: float, heartbeat) -> bool:
    """Sleep ``seconds`` while renewing the job's lease (the test-only start delays).

    False as soon as a heartbeat fails: the job was handed back or taken over, and the
    caller must leave it to its new owner."""
    deadline = time.monotonic() + max(0.0, float(seconds or 0))
    while time.monotonic() < deadline:
        time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        if not heartbeat():
            return False
    return True


def hand_back(db: Database, owners: list[str]) -> int:
    """Queue again the jobs these lease owners still run, at once and without counting the
    attempt (their process is stopping, not failing); returns how many."""
    if not owners:
        return 0
    with db.transaction() as session:
        result = session.execute(update(Job).where(Job.lease_owner.in_(owners), Job.state == RUNNING)
                                 .values(**_queued_again("handed back by a stopping worker")))
        return result.rowcount


def running(db: Database, owners: list[str]) -> int:
    """How many jobs these lease owners are running now."""
    if not owners:
        return 0
    with db.reader() as session:
        return session.scalar(select(func.count()).select_from(Job).where(Job.lease_owner.in_(owners),
                                                                          Job.state == RUNNING))


def _queued_again(reason: str) -> dict:
    """A running job back in the queue, lease dropped, this run not counted as an attempt."""
    return dict(state=QUEUED, lease_owner=None, lease_expires_at=None, attempts=Job.attempts - 1,
                last_error=_error_text(reason))


class LeaseQueue:
    def __init__(self, db: Database, owner: str, lease_seconds: float = 30.0, availability_zone: str | None = None):
        self.db = db
        self.owner = owner
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.availability_zone = availability_zone or None  # claim only jobs of this zone (or of none)

    def claim(self, kinds: list[str] | None = None) -> Claim | None:
        now = utcnow()
        with self.db.transaction() as session:
            runnable = or_(Job.state == QUEUED, and_(Job.state == RUNNING, Job.lease_expires_at < now))
            query = select(Job).where(runnable).where(or_(Job.not_before.is_(None), Job.not_before <= now))
            if kinds:
                query = query.where(Job.kind.in_(kinds))
            if self.availability_zone:
                zone = Job.availability_zone
                query = query.where(or_(zone.is_(None), zone == self.availability_zone))
            query = query.order_by(Job.created_at).limit(1)
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            job = session.scalars(query).first()
            if job is None:
                return None
            give_up = job.attempts >= job.max_attempts
            taken_over = job.state == RUNNING
            job.state = RUNNING
            job.attempts += 0 if give_up else 1
            job.lease_owner = self.owner
            job.lease_expires_at = now + self.lease
            return Claim(job.id, job.kind, job.resource_id, dict(job.payload), job.attempts, give_up, taken_over)

    def heartbeat(self, job_id: str) -> bool:
        """Renew the lease; False means we lost it (another worker took over)."""
        with self.db.transaction() as session:
            result = session.execute(
                update(Job).where(Job.id == job_id, Job.lease_owner == self.owner, Job.state == RUNNING)
                .values(lease_expires_at=utcnow() + self.lease))
            return result.rowcount == 1

    def complete(self, job_id: str, session: Session | None = None) -> None:
        self._finish(job_id, DONE, None, session)

    def fail(self, job_id: str, error: str, session: Session | None = None) -> None:
        self._finish(job_id, FAILED, error, session)

    def retry_later(self, job_id: str, later: Later) -> bool:
        """Queue our job again as ``later`` says; False if it is no longer ours."""
        values = dict(_queued_again(later.reason), not_before=utcnow() + dt.timedelta(seconds=later.delay_seconds))
        if later.payload is not None:
            values["payload"] = dict(later.payload)
        with self.db.transaction() as session:
            result = session.execute(update(Job).where(Job.id == job_id, Job.lease_owner == self.owner,
                                                       Job.state == RUNNING).values(**values))
            return result.rowcount == 1

    def _finish(self, job_id: str, state: str, error: str | None, session: Session | None) -> None:
        stmt = (update(Job).where(Job.id == job_id, Job.lease_owner == self.owner)
                .values(state=state, lease_expires_at=None, last_error=_error_text(error)))
        if session is not None:
            session.execute(stmt)
        else:
            with self.db.transaction() as own:
                own.execute(stmt)


def _error_text(error: str | None) -> str | None:
    """``last_error`` as the database can store it: the text of any exception a runner raised,
    which may quote an undecodable file name. Were the UPDATE to fail on it, the job would stay
    running, claimed by a worker that has already given up on it."""
    return display_text(error)[:4000] if error else None
