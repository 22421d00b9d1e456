"""The worker side of a process, assembled once for `sharebackup serve` and `sharebackup worker`.

A WorkerHost is the pool of worker threads, the repository-gc and backup-policy schedulers
and the rule for stopping: stop claiming, give running jobs ``grace`` seconds, then hand the
unfinished ones back to the queue (lease_queue.hand_back) so another process takes them over at once
instead of waiting for their leases to run out. Before, `serve` assembled its own pool and
handed nothing back: a job running when it was stopped sat in `creating` until its lease
expired.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading

from sharebackup.workflows import claim_limits
from sharebackup.queue import job_retention
from sharebackup.workflows.gc_scheduler import start_gc_scheduler
from sharebackup.workflows.heartbeat import Heartbeat
from sharebackup.workflows.policy_scheduler import start_policy_scheduler
from sharebackup.queue.lease_queue import LeaseQueue, hand_back, running
from sharebackup.workflows.runners import build_runners
from sharebackup.queue.worker_pool import WorkerPool

LOG = logging.getLogger(__name__)


class WorkerHost:
    def __init__(self, rt, threads: int, grace: float, runners: dict | None = None, poll_seconds: float = 0.2,
                 metrics=None):
        self.rt = rt
        self.grace = grace
        # the schedulers queue jobs only the full set of runners runs
        self.gc = runners is None
        self.owners: list[str] = []  # the lease owner names of this process's threads
        self._schedulers: list = []
        self.heartbeat = Heartbeat(rt, threads)
        make_queue = claim_limits.queue_factory(rt)  # [backup] max_operations, worker_availability_zone

        def queue(owner: str) -> LeaseQueue:
            self.owners.append(owner)
            return make_queue(owner)

        self.pool = WorkerPool(queue, runners if runners is not None else build_runners(rt), threads=threads,
                               poll_seconds=poll_seconds, metrics=metrics, idle_task=job_retention.idle_task(rt))

    @property
    def host(self) -> str:
        return self.pool.host

    def wake(self) -> None:
        """New work was queued in this process: claim it without waiting for the next poll."""
        self.pool.wake()

    def start(self) -> "WorkerHost":
        self.pool.start()
        self.heartbeat.start()
        if self.gc:  # repository gc jobs ([backup] gc_interval_seconds) and backup policies' runs
            gc = start_gc_scheduler(self.rt, self.pool.wake)
            self._schedulers = [s for s in (gc, start_policy_scheduler(self.rt, self.pool.wake)) if s is not None]
        return self

    def stop(self) -> int:
        """Stop claiming, wait up to ``grace`` seconds for running jobs, hand back the rest;
        returns how many were handed back."""
        for scheduler in self._schedulers:
            scheduler.stop()
        self.heartbeat.stop()
        stopper = threading.Thread(target=self.pool.stop, args=(self.grace,), name="sharebackup-stop", daemon=True)
        stopper.start()
        stopper.join(self.grace)
        handed = hand_back(self.rt.db, self.owners)
        if handed:
            LOG.warning("handed %d unfinished job(s) back to the queue", handed)
        return handed

    def running(self) -> int:
        return running(self.rt.db, self.owners)

    def on_stop_signals(self, first, label: str) -> None:
        """SIGINT/SIGTERM: the first says what the stop waits for and calls ``first()``; a second
        hands the running jobs back at once and ends the process (exit 130), as an impatient
        Ctrl-C expects. Before, a stop waited for its jobs without a word."""
        signals = []

        def handler(signum, _frame):
            signals.append(signum)
            if len(signals) == 1:
                busy = self.running()
                wait = (f"handing {busy} running job(s) back to the queue" if not self.grace or not busy else
                        f"waiting up to {self.grace:g} s for {busy} running job(s), then handing them back")
                print(f"sharebackup {label}: stopping ({signal.Signals(signum).name}): {wait}; "
                      "Ctrl-C again to stop at once", file=sys.stderr, flush=True)
                first()
                return
            handed = hand_back(self.rt.db, self.owners)
            print(f"sharebackup {label}: stopping now: {handed} job(s) handed back to the queue",
                  file=sys.stderr, flush=True)
            os._exit(130)

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
