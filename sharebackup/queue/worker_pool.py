"""A pool of worker threads that claim jobs and hand each to the runner for its kind.

Runners are plain callables ``run(claim, heartbeat)``; they do their own state changes and
may return a ``jobs.metrics.JobResult`` (bytes read, written, ...) for the metrics, or a
``lease_queue.Later`` to have the job queued again for later instead of doing it now.
A runner may also offer ``give_up(claim, reason)``, called when its job ends without it:
the attempts ran out (the previous workers died every time), or the runner raised. It must
leave the resource clearly failed, never waiting on a job that will not run again.
"""
from __future__ import annotations

import socket
import threading
import time
import uuid
from typing import Callable, Protocol

from sharebackup import logs
from sharebackup.queue.lease_queue import Claim, LeaseQueue, Later
from sharebackup.queue.metrics import JobResult
from sharebackup.queue.runner import as_runner
from sharebackup.core.text import display_text

LOG = logs.escaping_logger(__name__)  # engine text and runner errors may quote undecodable names

FAILED_RUN = object()  # _run_claim's answer for a job that failed


class Runner(Protocol):
    """runner.JobRunner's contract (a runner, its give_up, its log ids)."""

    def __call__(self, claim: Claim, heartbeat: Callable[[], bool]) -> JobResult | Later | None: ...

    def give_up(self, claim: Claim, reason: str) -> None: ...

    def log_ids(self, claim: Claim) -> dict: ...


class WorkerPool:
    def __init__(self, queue_factory: Callable[[str], LeaseQueue], runners: dict[str, Runner],
                 threads: int = 2, poll_seconds: float = 0.2, metrics=None,
                 idle_task: Callable[[], object] | None = None, idle_every: float = 300.0):
        self.runners = {kind: as_runner(runner) for kind, runner in runners.items()}
        # Housekeeping (jobs.job_retention) run by the first thread when it found nothing to claim,
        # at most every ``idle_every`` seconds: it never delays a job, and needs no thread of its own.
        self.idle_task = idle_task
        self.idle_every = idle_every
        self._idle_ran_at: float | None = None
        self.metrics = metrics  # a jobs.metrics.JobMetrics, or None
        self.threads = threads
        self.poll_seconds = poll_seconds
        self.host = socket.gethostname()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._queue_factory = queue_factory

    def start(self) -> None:
        for number in range(self.threads):
            owner = f"{self.host}:{uuid.uuid4().hex[:8]}:{number}"
            thread = threading.Thread(target=self._loop, args=(self._queue_factory(owner), number == 0),
                                      name=f"sharebackup-worker-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        """New work was queued in this process: skip the poll wait."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self, queue: LeaseQueue, housekeeper: bool = False) -> None:
        while not self._stop.is_set():
            try:
                claim = queue.claim(list(self.runners))
            except Exception:  # the database may be briefly unavailable; try again
                LOG.exception("claiming a job failed")
                claim = None
            if claim is None:
                if housekeeper:
                    self._run_idle_task()
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                continue
            try:
                self._run(queue, claim)
            except Exception:  # noqa: BLE001 - a dead thread would claim nothing more, ever
                LOG.exception("running job %s (%s of %s) failed", claim.id, claim.kind, claim.resource_id)

    def _run_idle_task(self) -> None:
        now = time.monotonic()
        if self.idle_task is None or (self._idle_ran_at is not None and now - self._idle_ran_at < self.idle_every):
            return
        self._idle_ran_at = now
        try:
            self.idle_task()
        except Exception:  # housekeeping must never stop the worker; try again next time
            LOG.exception("the worker's idle task failed")

    def _run(self, queue: LeaseQueue, claim: Claim) -> None:
        ids = self.runners[claim.kind].log_ids(claim)
        with logs.bound(job_id=claim.id, job_kind=claim.kind, resource_id=claim.resource_id, **ids):
            if self.metrics is not None:
                self.metrics.on_claim(claim)
            LOG.info("job started: %s of %s, attempt %d%s", claim.kind, claim.resource_id, claim.attempt,
                     " (taken over from a worker that stopped renewing its lease)" if claim.taken_over else "")
            started, outcome = time.monotonic(), self._run_claim(queue, claim)
            elapsed = time.monotonic() - started
            LOG.info("job %s: %s of %s after %.1f s, attempt %d%s", _ended(outcome), claim.kind, claim.resource_id,
                     elapsed, claim.attempt, _amounts(outcome))
            if self.metrics is not None:
                self.metrics.on_done(claim, outcome is not FAILED_RUN, elapsed, deferred=isinstance(outcome, Later))

    def _run_claim(self, queue: LeaseQueue, claim: Claim) -> object:
        """Run one claim; FAILED_RUN when the job failed, else what the runner returned."""
        runner = self.runners[claim.kind]
        if claim.give_up:  # its workers kept dying: end it, and leave its resource clearly failed
            self._give_up(runner, claim, "the job was interrupted too many times")
            self._fail(queue, claim, "attempts exhausted")
            return FAILED_RUN
        try:
            result = runner(claim, lambda: queue.heartbeat(claim.id))
            if isinstance(result, Later):
                queue.retry_later(claim.id, result)
            else:
                queue.complete(claim.id)
            if self.metrics is not None and isinstance(result, JobResult):
                self.metrics.on_result(result)
            return result
        except Exception as exc:
            LOG.exception("job %s (%s of %s) failed", claim.id, claim.kind, claim.resource_id)
            reason = f"{type(exc).__name__}: {display_text(exc)}"
            if self._still_ours(queue, claim):  # else another worker runs it now (the runner saw its lease go)
                self._give_up(runner, claim, reason)  # the job ends here: its resource must not wait on it
            self._fail(queue, claim, reason)
            return FAILED_RUN

    @staticmethod
    def _still_ours(queue: LeaseQueue, claim: Claim) -> bool:
        try:
            return queue.heartbeat(claim.id)
        except Exception:  # noqa: BLE001 - the database is away: nothing could be given up anyway
            return False

    @staticmethod
    def _give_up(runner: Runner, claim: Claim, reason: str) -> None:
        try:
            runner.give_up(claim, reason)
        except Exception:  # noqa: BLE001 - the job is failed below all the same
            LOG.exception("giving up job %s (%s of %s) failed", claim.id, claim.kind, claim.resource_id)

    @staticmethod
    def _fail(queue: LeaseQueue, claim: Claim, error: str) -> None:
        """Mark the job failed. This runs after a runner (or its give_up) raised, often for the same
        reason, so it must not raise in turn: that would end the worker thread and leave the job
        claimed until its lease ran out, only for the next worker to fail on it the same way."""
        try:
            queue.fail(claim.id, error)
        except Exception:  # noqa: BLE001
            LOG.exception("recording the failure of job %s failed; trying once more without its text", claim.id)
            try:
                queue.fail(claim.id, "the job failed; its error could not be recorded (see the worker's log)")
            except Exception:  # noqa: BLE001 - the database is away: the lease runs out, another worker retries
                LOG.exception("job %s stays claimed until its lease runs out", claim.id)


def _ended(outcome) -> str:
    if outcome is FAILED_RUN:
        return "failed"
    return f"put off ({outcome.reason})" if isinstance(outcome, Later) else "done"


def _amounts(outcome) -> str:
    """What a backup or restore moved, for the job's last log line."""
    if not isinstance(outcome, JobResult):
        return ""
    moved = {"read": outcome.read, "written": outcome.written, "deduplicated": outcome.deduplicated,
             "restored": outcome.restored}
    return "; " + ", ".join(f"{name} {count} bytes" for name, count in moved.items() if count)
