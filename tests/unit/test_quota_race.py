"""Concurrent reservations never overshoot a quota (acceptance criterion of the quota design).

Several threads each run many "reserve + insert a share row" transactions through
services.quotas.reserve, each in its own rt.db.transaction(), with a pause between the check
and the insert to widen the window a race would need. On PostgreSQL the project's lock row
(SELECT ... FOR UPDATE) serialises them; on SQLite BEGIN IMMEDIATE does. Exactly the limit's
worth of rows must exist at the end, and every other attempt must have been Manila's 413.

The negative control (PostgreSQL) runs the same workload with the lock turned into a no-op
and shows that the overshoot is real without it, so the first test proves something.
"""
from __future__ import annotations

import random
import threading
import time

import pytest
from sqlalchemy import func, select

from sharebackup.core.context import RequestContext
from sharebackup.faults import Fault  # noqa: F401 - a schema's refusal
from sharebackup.api.errors import fault_for
from tests.unit._refusals import REFUSED, status
from sharebackup.db.models import Share
from sharebackup.services import quotas
from tests.conftest import create_pg_database, drop_pg_database, make_runtime, require_pg

THREADS = 8
ATTEMPTS = 8
PROJECT = "raceproject"


def _set_limits(rt, **values):
    quotas.update(rt, RequestContext.admin(), PROJECT, "", values, force=True)


def _run(rt, sizes, pause: float):
    """Each thread: ATTEMPTS transactions of reserve + insert. Returns (successes, faults, errors)."""
    start = threading.Barrier(THREADS)
    lock = threading.Lock()
    successes, faults, errors = [], [], []

    def worker(index: int):
        start.wait()
        for attempt in range(ATTEMPTS):
            size = sizes(index, attempt)
            try:
                with rt.db.transaction() as session:
                    quotas.reserve(session, rt, PROJECT, f"user{index % 2}", {"shares": 1, "gigabytes": size})
                    time.sleep(pause)  # check done, row not yet written: the race window
                    session.add(Share(user_id=f"user{index % 2}", project_id=PROJECT, size=size,
                                      share_proto="NFS", status="creating"))
                with lock:
                    successes.append(size)
            except REFUSED as fault:
                with lock:
                    faults.append(fault)
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                with lock:
                    errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    return successes, faults, errors


def _rows(rt):
    with rt.db.reader() as session:
        count = session.scalar(select(func.count()).select_from(Share).where(Share.project_id == PROJECT))
        total = session.scalar(select(func.coalesce(func.sum(Share.size), 0)).where(Share.project_id == PROJECT))
    return count, total


def test_concurrent_share_reservations_stop_exactly_at_the_limit(runtime):
    limit = 10
    _set_limits(runtime, shares=limit, gigabytes=-1)
    successes, faults, errors = _run(runtime, lambda i, a: 1, pause=0.005)
    assert errors == []
    count, _ = _rows(runtime)
    assert count == limit
    assert len(successes) == limit
    assert len(faults) == THREADS * ATTEMPTS - limit
    assert {status(fault) for fault in faults} == {413}
    assert faults[0].message == (f"ShareLimitExceeded: Maximum number of shares allowed ({limit}) either per "
                                 "project/user or share type quota is exceeded.")
    assert fault_for(faults[0]).body()["overLimit"]["retryAfter"] == "0"  # as the client sees it


def test_concurrent_gigabyte_reservations_never_exceed_the_limit(runtime):
    limit = 25
    _set_limits(runtime, shares=-1, gigabytes=limit)
    rng = random.Random(7)
    plan = {(i, a): rng.randint(1, 4) for i in range(THREADS) for a in range(ATTEMPTS)}
    successes, faults, errors = _run(runtime, lambda i, a: plan[(i, a)], pause=0.002)
    assert errors == []
    count, total = _rows(runtime)
    assert count == len(successes)
    assert total == sum(successes) <= limit
    # Requests for 1G were refused only once the quota had no 1G left at all.
    assert all(status(fault) == 413 and fault.message.startswith("ShareSizeExceedsAvailableQuota") for fault in faults)
    assert len(successes) + len(faults) == THREADS * ATTEMPTS
    assert total >= limit - 3  # filled up: at most a request's worth (4G - 1) may be left over


@pytest.fixture
def pg_runtime(tmp_path):
    """PostgreSQL only: on SQLite, BEGIN IMMEDIATE serialises writers with or without the lock row,
    so the negative control has nothing to show there."""
    require_pg()
    url = create_pg_database()
    rt = make_runtime(tmp_path / "state", url)
    yield rt
    rt.db.dispose()
    drop_pg_database(url)


@pytest.mark.postgres
def test_negative_control_without_the_lock_the_race_is_real(pg_runtime, monkeypatch):
    """Same workload, lock disabled: PostgreSQL READ COMMITTED lets the checks interleave."""
    runtime = pg_runtime
    limit = 10
    _set_limits(runtime, shares=limit, gigabytes=-1)
    monkeypatch.setattr(quotas, "lock_project", lambda session, project_id: None)
    successes, faults, errors = _run(runtime, lambda i, a: 1, pause=0.02)
    assert errors == []
    count, _ = _rows(runtime)
    assert count > limit, "without the lock the quota should have been overshot"
