"""The database lease on a repository: acquire, renew, release, takeover after expiry, exclusivity
(SQLite and PostgreSQL), and the margin that stops a holder before its lease may have run out."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import update

from sharebackup.db.models import RepositoryLease, utcnow
from sharebackup.workflows import repository_lease as leases


def _expire(rt, name):
    with rt.db.transaction() as session:
        session.execute(update(RepositoryLease).where(RepositoryLease.name == name)
                        .values(expires_at=utcnow() - dt.timedelta(seconds=1)))


def test_acquire_is_exclusive_until_release(runtime):
    db = runtime.db
    leases.acquire(db, "default", "a", "gc", 60)
    with pytest.raises(leases.LeaseHeld) as held:
        leases.acquire(db, "default", "b", "gc", 60)
    assert held.value.current.holder == "a" and "held for gc by a" in str(held.value)
    assert leases.held_by_other(db, "default", "b").holder == "a"
    assert leases.held_by_other(db, "default", "a") is None
    assert leases.held_by_other(db, "other") is None
    leases.acquire(db, "other", "b", "gc", 60)  # another repository is independent
    leases.release(db, "default", "a")
    assert leases.held_by_other(db, "default") is None
    leases.acquire(db, "default", "b", "gc", 60)
    assert leases.held_by_other(db, "default", "a").holder == "b"


def test_renew_only_while_ours_and_unexpired_and_takeover_after_expiry(runtime):
    db = runtime.db
    leases.acquire(db, "default", "a", "gc", 60)
    assert leases.renew(db, "default", "a", 60)
    assert not leases.renew(db, "default", "b", 60)
    _expire(runtime, "default")
    assert leases.held_by_other(db, "default") is None  # an expired lease holds nothing
    assert not leases.renew(db, "default", "a", 60)  # too late: a holder that lapsed must stop
    leases.acquire(db, "default", "b", "gc", 60)  # takeover
    assert leases.held_by_other(db, "default").holder == "b"
    leases.release(db, "default", "a")  # the old holder's release does not free b's lease
    assert leases.held_by_other(db, "default").holder == "b"


def test_release_records_a_finished_collection_only_when_asked(runtime):
    db = runtime.db
    leases.acquire(db, "default", "a", "gc", 60)
    leases.release(db, "default", "a")
    assert leases.last_finished(db, "default") is None
    leases.acquire(db, "default", "a", "gc", 60)
    leases.release(db, "default", "a", finished=True)
    assert leases.last_finished(db, "default") is not None


def test_concurrent_acquirers_get_exactly_one_lease(runtime):
    """Eight threads race for a lease whose row does not exist yet (the insert race on PostgreSQL)."""
    won, lost, errors = [], [], []
    start = threading.Barrier(8)

    def contend(number):
        start.wait()
        try:
            leases.acquire(runtime.db, "race", f"h{number}", "gc", 60)
            won.append(number)
        except leases.LeaseHeld:
            lost.append(number)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(won) == 1 and len(lost) == 7
    assert leases.held_by_other(runtime.db, "race").holder == f"h{won[0]}"


def test_held_lease_renews_releases_and_records_finish(sqlite_runtime):
    db = sqlite_runtime.db
    with leases.HeldLease(db, "default", "gc", 0.4) as lease:
        assert leases.held_by_other(db, "default").holder == lease.holder
        first = leases.held_by_other(db, "default").expires_at
        # wait for a renewal by watching the row, not the clock
        for _ in range(200):
            if leases.held_by_other(db, "default").expires_at > first:
                break
            threading.Event().wait(0.02)
        assert leases.held_by_other(db, "default").expires_at > first
        assert lease.keep_going()
        lease.finish()
    assert leases.held_by_other(db, "default") is None
    assert leases.last_finished(db, "default") is not None


def test_keep_going_says_no_once_less_than_the_margin_is_left(sqlite_runtime):
    now = [1000.0]
    lease = leases.HeldLease(sqlite_runtime.db, "default", "gc", 30.0, clock=lambda: now[0])
    with lease:
        assert lease.keep_going()
        now[0] += 30.0 * (1 - leases.MARGIN) - 0.5  # just more than the margin left
        assert lease.keep_going()
        now[0] += 1.0  # just less
        assert not lease.keep_going()


def test_a_holder_whose_lease_was_taken_over_stops(sqlite_runtime):
    db = sqlite_runtime.db
    lease = leases.HeldLease(db, "default", "gc", 0.4)
    with lease:
        _expire(sqlite_runtime, "default")
        leases.acquire(db, "default", "intruder", "gc", 60)
        assert lease.lost.wait(5)
        assert not lease.keep_going()
    assert leases.held_by_other(db, "default").holder == "intruder"  # our exit did not free it


def test_a_failing_job_heartbeat_counts_as_a_lost_lease(sqlite_runtime):
    lease = leases.HeldLease(sqlite_runtime.db, "default", "gc", 0.4, heartbeat=lambda: False)
    with lease:
        assert lease.lost.wait(5)
        assert not lease.keep_going()
