"""The one lease keeper (sharebackup.core.lease_keeper), with a fake renew function, a fake clock
where time matters, and intervals of milliseconds. Waits are "within a generous bound" only."""
from __future__ import annotations

import contextvars
import threading
import time

import pytest

from sharebackup.core.lease_keeper import LeaseKeeper, LeaseLost

TICK = 0.005  # the keeper's interval in these tests
BOUND = 5.0  # generous: what must happen does so within this many seconds


class Renewals:
    """A fake renew(): counts calls and answers what ``answer`` says (True, False, or raises)."""

    def __init__(self, answer=True):
        self.answer = answer
        self.calls = 0
        self.called = threading.Event()

    def __call__(self) -> bool:
        self.calls += 1
        self.called.set()
        answer = self.answer
        if isinstance(answer, Exception):
            raise answer
        return answer

    def wait_for(self, calls: int) -> bool:
        deadline = time.monotonic() + BOUND
        while self.calls < calls and time.monotonic() < deadline:
            time.sleep(TICK)
        return self.calls >= calls


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _ends(keeper: LeaseKeeper) -> bool:
    keeper._thread.join(BOUND)
    return not keeper._thread.is_alive()


def test_renews_while_the_lease_is_alive():
    renew = Renewals(True)
    with LeaseKeeper(renew, interval=TICK, lease_seconds=10) as keeper:
        assert renew.wait_for(5)
        assert not keeper.lost.is_set() and keeper.keep_going()
        keeper.check()  # no LeaseLost
        assert 9 < keeper.remaining() <= 10


def test_renew_false_means_lost_check_raises_and_the_thread_ends():
    renew = Renewals(False)
    with LeaseKeeper(renew, interval=TICK, lease_seconds=10, what="backup b1") as keeper:
        assert keeper.lost.wait(BOUND)
        with pytest.raises(LeaseLost, match="backup b1"):
            keeper.check()
        assert not keeper.keep_going() and keeper.remaining() == 0
        assert _ends(keeper)
        assert renew.calls == 1  # never renewed again


def test_a_failing_renewal_is_retried_and_lost_only_once_the_lease_ran_out():
    clock, renew = FakeClock(), Renewals(ConnectionError("the database blinked"))
    with LeaseKeeper(renew, interval=TICK, lease_seconds=30, clock=clock) as keeper:
        assert renew.wait_for(5)  # retried, round after round
        assert not keeper.lost.is_set()
        clock.now += 29  # still 1 s of lease left: keep trying
        calls = renew.calls
        assert renew.wait_for(calls + 3)
        assert not keeper.lost.is_set() and keeper.remaining() == pytest.approx(1)
        clock.now += 1.5  # the lease ran out with no renewal that worked
        assert keeper.lost.wait(BOUND)
        assert _ends(keeper)
        with pytest.raises(LeaseLost):
            keeper.check()


def test_a_renewal_that_works_again_extends_the_lease():
    clock, renew = FakeClock(), Renewals(ConnectionError("blink"))
    with LeaseKeeper(renew, interval=TICK, lease_seconds=30, clock=clock) as keeper:
        assert renew.wait_for(2)
        clock.now += 20
        assert keeper.remaining() == pytest.approx(10)
        renew.answer = True
        calls = renew.calls
        assert renew.wait_for(calls + 2)
        assert keeper.remaining() == pytest.approx(30)  # counted from the renewal that worked
        clock.now += 25
        assert not keeper.lost.is_set()


def test_held_since_counts_the_lease_from_when_it_was_taken():
    clock, renew = FakeClock(), Renewals(True)
    keeper = LeaseKeeper(renew, interval=60, lease_seconds=30, clock=clock)
    with keeper.start(held_since=clock.now - 10):
        assert keeper.remaining() == pytest.approx(20)


def test_keep_going_insists_on_the_margin():
    clock = FakeClock()
    with LeaseKeeper(Renewals(True), interval=60, lease_seconds=30, margin=1 / 3, clock=clock) as keeper:
        clock.now += 19.5  # 10.5 s left, more than a third
        assert keeper.keep_going()
        clock.now += 1  # 9.5 s left
        assert not keeper.keep_going()
        assert not keeper.lost.is_set()  # saying no is not losing the lease


def test_the_stall_rule_stops_renewing_and_the_lease_is_lost():
    clock, renew = FakeClock(), Renewals(True)
    with LeaseKeeper(renew, interval=TICK, lease_seconds=30, stall_seconds=5, clock=clock) as keeper:
        assert renew.wait_for(3)  # renewing while the work moves
        clock.now += 6  # no touch for longer than stall_seconds
        assert keeper.lost.wait(BOUND)
        assert _ends(keeper)
        calls = renew.calls
        time.sleep(20 * TICK)
        assert renew.calls == calls  # no renewal after the stall: the lease runs out
        with pytest.raises(LeaseLost):
            keeper.check()


def test_touch_keeps_a_stall_watched_lease_alive():
    clock, renew = FakeClock(), Renewals(True)
    with LeaseKeeper(renew, interval=TICK, lease_seconds=30, stall_seconds=5, clock=clock) as keeper:
        for _ in range(10):  # 40 s of fake time in all, each step shorter than the stall limit
            clock.now += 4
            keeper.touch()
            calls = renew.calls
            assert renew.wait_for(calls + 1)
        assert not keeper.lost.is_set()
        clock.now += 6  # then the work stops moving
        assert keeper.lost.wait(BOUND)


def test_without_a_stall_limit_untouched_work_keeps_its_lease():
    clock, renew = FakeClock(), Renewals(True)
    with LeaseKeeper(renew, interval=TICK, lease_seconds=30, clock=clock) as keeper:
        clock.now += 10_000
        calls = renew.calls
        assert renew.wait_for(calls + 3)
        assert not keeper.lost.is_set()


def test_leaving_the_block_stops_the_thread_and_the_renewals():
    renew = Renewals(True)
    with LeaseKeeper(renew, interval=TICK, lease_seconds=10) as keeper:
        assert renew.wait_for(2)
    assert not keeper._thread.is_alive()
    calls = renew.calls
    time.sleep(20 * TICK)
    assert renew.calls == calls
    assert not keeper.lost.is_set()  # stopping is not losing


def test_the_keeper_thread_sees_the_callers_context_variables():
    """How a job's log ids (sharebackup.logs keeps them in a ContextVar) reach the keeper's lines."""
    job_id = contextvars.ContextVar("job_id", default=None)
    seen = []
    job_id.set("job-42")
    with LeaseKeeper(lambda: seen.append(job_id.get()) or True, interval=TICK, lease_seconds=10):
        deadline = time.monotonic() + BOUND
        while not seen and time.monotonic() < deadline:
            time.sleep(TICK)
    assert seen and seen[0] == "job-42"


def test_there_is_one_lease_lost_class():
    from sharebackup.workflows import backup_job_progress
    from sharebackup.shares import local_snapshots

    assert backup_job_progress.LeaseLost is LeaseLost
    assert local_snapshots.LeaseLost is LeaseLost


def test_an_engine_lock_whose_renewals_fail_for_a_whole_lease_is_lost():
    """The engine's RepoLock uses the keeper too: a store that refuses renewals for longer than the
    lease ends them (before, it went on writing lock objects after its lease had run out)."""
    from sharebackup.engine.errors import StoreError
    from sharebackup.engine.locks import RepoLock
    from sharebackup.engine.stores.memory import MemoryStore

    store = MemoryStore()
    lock = RepoLock(store, exclusive=True, lease=0.06, purpose="gc").acquire()
    try:
        assert lock.remaining() > 0 and not lock.lost.is_set()
        real_put = store.put_if_absent
        store.put_if_absent = lambda name, data: (_ for _ in ()).throw(StoreError("refused"))
        assert lock.lost.wait(BOUND)
        assert lock.remaining() == 0
        store.put_if_absent = real_put
        locks_now = sorted(info.name for info in store.list("locks/"))
        time.sleep(0.1)
        assert sorted(info.name for info in store.list("locks/")) == locks_now  # no more lock objects
    finally:
        lock.release()
    assert list(store.list("locks/")) == []
