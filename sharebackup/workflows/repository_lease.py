"""A lease lock on one configured repository, held in the database (table repository_leases).

Garbage collection takes it so that workers stop starting backups, restores and deletes on that
repository while it runs (they look with ``held_by_other`` and queue their job again a little
later). It is a lease, not a lock: the holder renews it from a thread, and a holder that dies
simply lets it run out, after which anyone may take it over. A holder that cannot renew it
stops: ``HeldLease.keep_going()`` says no as soon as less than a margin (a third of the lease)
is sure to be left, and the collection asks it before every deletion.

Acquiring is one write transaction: SQLite serialises those (BEGIN IMMEDIATE); PostgreSQL
locks the row (SELECT ... FOR UPDATE), and two first-ever inserts racing end in one unique
violation, after which the loser simply looks again. Times are the hosts' UTC clocks, as for
job leases: keep them in sync (NTP); the margin also absorbs some skew.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from sharebackup.core.lease_keeper import LeaseKeeper
from sharebackup.db.models import RepositoryLease, utcnow

LOG = logging.getLogger(__name__)

MARGIN = 1 / 3  # of the lease: keep_going() says no once less than this is sure to be left


@dataclass(frozen=True)
class Holder:
    """Who holds a repository's lease, for messages."""
    name: str
    holder: str
    purpose: str
    expires_at: dt.datetime

    def describe(self) -> str:
        return (f"repository {self.name!r} is held for {self.purpose or 'maintenance'} by {self.holder} "
                f"(lease until {self.expires_at.isoformat(sep=' ', timespec='seconds')} UTC)")


class LeaseHeld(Exception):
    """Someone else holds the repository's lease."""

    def __init__(self, current: Holder):
        super().__init__(current.describe())
        self.current = current


def new_holder_name(prefix: str) -> str:
    return f"{prefix}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _live(row: RepositoryLease | None, now: dt.datetime) -> bool:
    return row is not None and row.holder is not None and row.expires_at is not None and row.expires_at > now


def _holder(row: RepositoryLease) -> Holder:
    return Holder(row.name, row.holder or "", row.purpose or "", row.expires_at)


def lock_row(session, db, name: str) -> RepositoryLease | None:
    """The lease row of ``name``, locked for the rest of the write transaction (PostgreSQL; SQLite
    transactions are serialised already)."""
    query = select(RepositoryLease).where(RepositoryLease.name == name)
    if not db.is_sqlite:
        query = query.with_for_update()
    return session.scalars(query).first()


def acquire(db, name: str, holder: str, purpose: str, seconds: float) -> None:
    """Take the lease (insert the row, or take it over when free or expired); LeaseHeld otherwise."""
    for _ in range(2):  # a second round only after losing a first-insert race on PostgreSQL
        try:
            with db.transaction() as session:
                now = utcnow()
                row = lock_row(session, db, name)
                if row is None:
                    row = RepositoryLease(name=name)
                    session.add(row)
                elif _live(row, now) and row.holder != holder:
                    raise LeaseHeld(_holder(row))
                row.holder, row.purpose = holder, purpose
                row.acquired_at, row.expires_at = now, now + dt.timedelta(seconds=seconds)
                session.flush()
                return
        except IntegrityError:
            continue  # another process inserted the row first; now it exists and can be locked
    raise RuntimeError(f"could not read or insert the lease row of repository {name!r}")


def renew(db, name: str, holder: str, seconds: float) -> bool:
    """Extend our unexpired lease; False when it is not ours any more (expired or taken over)."""
    with db.transaction() as session:
        now = utcnow()
        result = session.execute(
            update(RepositoryLease)
            .where(RepositoryLease.name == name, RepositoryLease.holder == holder, RepositoryLease.expires_at > now)
            .values(expires_at=now + dt.timedelta(seconds=seconds)))
        return result.rowcount == 1


def release(db, name: str, holder: str, finished: bool = False) -> None:
    """Give the lease up (if still ours); ``finished`` also records the end of a collection."""
    values: dict = {"holder": None, "purpose": None, "expires_at": None}
    if finished:
        values["last_finished_at"] = utcnow()
    with db.transaction() as session:
        session.execute(update(RepositoryLease)
                        .where(RepositoryLease.name == name, RepositoryLease.holder == holder).values(values))


def held_by_other(db, name: str, holder: str | None = None) -> Holder | None:
    """The unexpired lease on ``name`` of anyone but ``holder``, or None."""
    with db.reader() as session:
        row = session.get(RepositoryLease, name)
        if _live(row, utcnow()) and row.holder != holder:
            return _holder(row)
    return None


def last_finished(db, name: str) -> dt.datetime | None:
    with db.reader() as session:
        row = session.get(RepositoryLease, name)
        return row.last_finished_at if row is not None else None


class HeldLease:
    """``with HeldLease(db, name, "gc", seconds) as lease:`` holds the lease and renews it
    (with a sharebackup.core.lease_keeper.LeaseKeeper).

    ``heartbeat`` (optional) is called with every renewal too (the job's own lease); when it
    returns False the lease counts as lost. Renewals come every quarter of the lease, or every
    ``renew_every`` seconds when that is shorter (the job's lease may be shorter than this one).
    ``finish()`` records a finished collection; the lease is released on exit either way.
    """

    def __init__(self, db, name: str, purpose: str, seconds: float, holder: str | None = None,
                 heartbeat: Callable[[], bool] | None = None, clock: Callable[[], float] = time.monotonic,
                 renew_every: float | None = None):
        self.db, self.name, self.purpose, self.seconds = db, name, purpose, float(seconds)
        # one failed renewal is absorbed; after two in a row keep_going() says no
        self.renew_every = min(self.seconds / 4, renew_every or self.seconds)
        self.holder = holder or new_holder_name(purpose)
        self.heartbeat = heartbeat
        self.clock = clock
        self._finished = False
        self._keeper = LeaseKeeper(self._renew, interval=self.renew_every, lease_seconds=self.seconds,
                                   clock=clock, what=f"repository {name}",
                                   thread_name=f"repo-lease-{name}")
        self.lost = self._keeper.lost

    def __enter__(self) -> HeldLease:
        started = self.clock()
        acquire(self.db, self.name, self.holder, self.purpose, self.seconds)
        self._keeper.start(held_since=started)  # its thread logs with the gc job's ids
        return self

    def __exit__(self, *exc) -> None:
        self._keeper.stop()
        try:
            release(self.db, self.name, self.holder, finished=self._finished)
        except Exception:  # noqa: BLE001 - the lease runs out on its own
            LOG.warning("releasing the lease on repository %s failed; it will expire", self.name, exc_info=True)

    def remaining(self) -> float:
        """Seconds the lease is sure to last, from the last renewal that succeeded."""
        return self._keeper.remaining()

    def keep_going(self) -> bool:
        """True while at least the margin of the lease is sure to be left."""
        return self.remaining() >= self.seconds * MARGIN

    def finish(self) -> None:
        self._finished = True

    def _renew(self) -> bool:
        alive = renew(self.db, self.name, self.holder, self.seconds)
        return alive and (self.heartbeat is None or bool(self.heartbeat()))


def record_check(db, name: str, result: str) -> None:
    """The end of a check of repository ``name`` and its verdict ("ok", "3 errors")."""
    with db.transaction() as session:
        row = lock_row(session, db, name)
        if row is None:
            row = RepositoryLease(name=name)
            session.add(row)
        row.last_check_at, row.last_check_result = utcnow(), result[:255]
