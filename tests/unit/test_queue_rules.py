"""The queue's rules, with fake runners on a real database (SQLite), in milliseconds:
the attempt budget, putting a job off (Later), handing back, giving up, takeover.

The chaos test (tests/integration/test_fault_recovery.py) shows the same rules under
SIGKILL; these pin each one down on its own.
"""
from __future__ import annotations

import threading
import time

from sharebackup.db.models import Job
from sharebackup.queue.lease_queue import DONE, FAILED, QUEUED, LeaseQueue, Later, enqueue, hand_back
from sharebackup.workflows.worker_host import WorkerHost
from sharebackup.queue.worker_pool import WorkerPool

KIND = "test.thing"


def _job(rt, job_id) -> Job:
    with rt.db.reader() as session:
        return session.get(Job, job_id)


def _queue_one(rt, payload=None, max_attempts=3) -> str:
    with rt.db.transaction() as session:
        job = enqueue(session, KIND, "thing-1", payload, max_attempts=max_attempts)
        session.flush()
        return job.id


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class FakeRunner:
    """Answers from a script, one answer per run; records runs and give_ups."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.runs: list[int] = []
        self.given_up: list[str] = []

    def __call__(self, claim, heartbeat):
        self.runs.append(claim.attempt)
        answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, Exception):
            raise answer
        return answer

    def give_up(self, claim, reason):
        self.given_up.append(reason)


def _run_pool(rt, runner, until, lease=30.0):
    def queue(owner):
        return LeaseQueue(rt.db, owner, lease_seconds=lease)
    pool = WorkerPool(queue, {KIND: runner}, threads=1, poll_seconds=0.01)
    pool.start()
    try:
        _wait(until)
    finally:
        pool.stop()


def test_a_job_that_returns_is_done(sqlite_runtime):
    rt = sqlite_runtime
    job_id, runner = _queue_one(rt), FakeRunner()
    _run_pool(rt, runner, lambda: _job(rt, job_id).state == DONE)
    assert runner.runs == [1] and runner.given_up == []


def test_later_puts_the_job_off_at_no_cost_with_its_new_payload(sqlite_runtime):
    rt = sqlite_runtime
    job_id = _queue_one(rt, {"tries": 0})
    runner = FakeRunner(Later(0.05, "locked", {"tries": 1}), Later(0.05, "locked", {"tries": 2}))
    _run_pool(rt, runner, lambda: _job(rt, job_id).state == DONE)
    job = _job(rt, job_id)
    assert runner.runs == [1, 1, 1]  # each put-off run was given back
    assert (job.payload, job.attempts) == ({"tries": 2}, 1)


def test_later_waits_its_delay(sqlite_runtime):
    rt = sqlite_runtime
    job_id = _queue_one(rt)
    queue = LeaseQueue(rt.db, "w")
    claim = queue.claim([KIND])
    assert queue.retry_later(claim.id, Later(3600, "gc holds the repository"))
    assert queue.claim([KIND]) is None  # not before an hour
    job = _job(rt, job_id)
    assert (job.state, job.attempts, job.lease_owner, job.last_error) == (QUEUED, 0, None, "gc holds the repository")


def test_a_job_no_longer_ours_is_not_put_off(sqlite_runtime):
    rt = sqlite_runtime
    _queue_one(rt)
    mine = LeaseQueue(rt.db, "mine", lease_seconds=0.0)
    claim = mine.claim([KIND])
    other = LeaseQueue(rt.db, "other")
    assert other.claim([KIND]).id == claim.id  # taken over: the lease had run out
    assert not mine.retry_later(claim.id, Later(1, "x"))
    assert _job(rt, claim.id).lease_owner == "other"


def test_runs_that_died_use_up_the_budget_then_the_job_is_given_up(sqlite_runtime):
    rt = sqlite_runtime
    job_id = _queue_one(rt, max_attempts=3)
    dead = LeaseQueue(rt.db, "dead", lease_seconds=0.0)  # its leases run out at once: a dead worker
    taken = [dead.claim([KIND]) for _ in range(3)]
    assert [(c.attempt, c.taken_over, c.give_up) for c in taken] == [(1, False, False), (2, True, False),
                                                                     (3, True, False)]
    runner = FakeRunner()
    _run_pool(rt, runner, lambda: _job(rt, job_id).state == FAILED)
    assert runner.runs == [] and runner.given_up == ["the job was interrupted too many times"]


def test_a_runner_that_raises_fails_the_job_and_gives_its_resource_up(sqlite_runtime):
    rt = sqlite_runtime
    job_id = _queue_one(rt)
    runner = FakeRunner(RuntimeError("disk on fire"))
    _run_pool(rt, runner, lambda: _job(rt, job_id).state == FAILED)
    assert runner.given_up == ["RuntimeError: disk on fire"]
    assert "disk on fire" in _job(rt, job_id).last_error


def test_a_runner_that_raises_after_a_takeover_leaves_the_resource_to_the_new_owner(sqlite_runtime):
    """A runner that stops because its lease went (another worker took the job over) must not
    have its resource failed under the worker that now runs it."""
    rt = sqlite_runtime
    job_id = _queue_one(rt)
    first = LeaseQueue(rt.db, "first", lease_seconds=0.0)  # its lease runs out at once
    claim = first.claim([KIND])

    class TakenOver(FakeRunner):
        def __call__(self, claim, heartbeat):
            assert LeaseQueue(rt.db, "second").claim([KIND]).id == claim.id
            raise RuntimeError("lease lost")

    runner = TakenOver()
    WorkerPool(lambda owner: first, {KIND: runner})._run_claim(first, claim)
    assert runner.given_up == []
    job = _job(rt, job_id)
    assert (job.lease_owner, job.state) == ("second", "running")


def test_hand_back_queues_running_jobs_again_without_counting_the_run(sqlite_runtime):
    rt = sqlite_runtime
    job_id = _queue_one(rt)
    started, release = threading.Event(), threading.Event()

    def slow(claim, heartbeat):
        started.set()
        release.wait(10)

    host = WorkerHost(rt, threads=1, grace=0.0, runners={KIND: slow}, poll_seconds=0.01).start()
    try:
        assert started.wait(10)
        assert host.stop() == 1
        job = _job(rt, job_id)
        assert (job.state, job.attempts, job.lease_owner) == (QUEUED, 0, None)
    finally:
        release.set()


def test_heartbeat_fails_once_the_job_is_handed_back(sqlite_runtime):
    rt = sqlite_runtime
    _queue_one(rt)
    queue = LeaseQueue(rt.db, "w")
    claim = queue.claim([KIND])
    assert queue.heartbeat(claim.id)
    assert hand_back(rt.db, ["w"]) == 1
    assert not queue.heartbeat(claim.id)  # the runner learns it must stop
