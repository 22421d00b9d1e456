"""`sharebackup worker`: a worker pool on its own (no API), for running workers on more hosts.

It claims jobs from the same database as the API processes. On SIGTERM or SIGINT it stops
claiming, gives running jobs ``grace`` seconds to finish, then hands the unfinished ones
back (queued again, lease dropped, the attempt not counted) so another worker takes them
over at once instead of waiting for the lease to run out.
"""
from __future__ import annotations

import logging
import signal
import threading

from sqlalchemy import update

from sharebackup import logs
from sharebackup.api.runtime import build_runtime
from sharebackup.config import Config
from sharebackup.db.models import Job
from sharebackup.jobs import claim_limits, job_retention
from sharebackup.jobs.gc_scheduler import start_gc_scheduler
from sharebackup.jobs.lease_queue import QUEUED, RUNNING, LeaseQueue
from sharebackup.jobs.metrics import build_registry
from sharebackup.jobs.runners import build_runners
from sharebackup.jobs.worker_pool import WorkerPool
from sharebackup.services.bootstrap import prepare_database

LOG = logging.getLogger(__name__)


def hand_back(db, owners: list[str]) -> int:
    """Put the jobs these lease owners still run back in the queue; returns how many."""
    if not owners:
        return 0
    with db.transaction() as session:
        result = session.execute(
            update(Job).where(Job.lease_owner.in_(owners), Job.state == RUNNING)
            .values(state=QUEUED, lease_owner=None, lease_expires_at=None,
                    attempts=Job.attempts - 1, last_error="handed back by a stopping worker"))
        return result.rowcount


class Worker:
    def __init__(self, rt, threads: int, grace: float, runners: dict | None = None, poll_seconds: float = 0.2,
                 metrics=None):
        self.rt = rt
        self.grace = grace
        self.owners: list[str] = []
        make_queue = claim_limits.queue_factory(rt)  # [backup] max_operations, worker_availability_zone

        def queue(owner: str) -> LeaseQueue:
            self.owners.append(owner)
            return make_queue(owner)

        self.pool = WorkerPool(queue, runners if runners is not None else build_runners(rt), threads=threads,
                               poll_seconds=poll_seconds, metrics=metrics, idle_task=job_retention.idle_task(rt))

    def start(self) -> None:
        self.pool.start()

    def stop(self) -> int:
        """Stop claiming, wait up to ``grace`` seconds for running jobs, hand back the rest."""
        stopper = threading.Thread(target=self.pool.stop, args=(self.grace,), name="sharebackup-stop", daemon=True)
        stopper.start()
        stopper.join(self.grace)
        handed = hand_back(self.rt.db, self.owners)
        if handed:
            LOG.warning("handed %d unfinished job(s) back to the queue", handed)
        return handed


def run_worker(conf: Config, threads: int | None = None, grace: float = 20.0) -> int:
    logs.configure(conf)
    conf.state_path.mkdir(parents=True, exist_ok=True)
    rt = build_runtime(conf)
    prepare_database(rt)
    count = threads if threads is not None else max(1, conf.workers)
    registry, job_metrics = build_registry(rt.db)
    worker = Worker(rt, count, grace, metrics=job_metrics)
    if conf.metrics_enabled and conf.worker_metrics_port:
        from prometheus_client import start_http_server
        start_http_server(conf.worker_metrics_port, addr=conf.host, registry=registry)
        print(f"sharebackup worker: metrics at http://{conf.host}:{conf.worker_metrics_port}/metrics", flush=True)
    stop = threading.Event()

    def _graceful(signum, _frame):
        LOG.info("signal %s: stopping (finishing running jobs for up to %s s)", signum, grace)
        stop.set()

    signal.signal(signal.SIGTERM, _graceful)
    signal.signal(signal.SIGINT, _graceful)
    worker.start()
    gc_scheduler = start_gc_scheduler(rt)  # queues repository gc jobs ([backup] gc_interval_seconds)
    print(f"sharebackup worker: {count} thread(s) on {worker.pool.host} "
          f"(database: {rt.db.engine.url.render_as_string(hide_password=True)})", flush=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        if gc_scheduler is not None:
            gc_scheduler.stop()
        worker.stop()
        rt.db.dispose()
    return 0
