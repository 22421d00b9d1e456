"""`sharebackup serve`: the embedded default. API + in-process worker pool, one process."""
from __future__ import annotations

import logging
import signal
import threading

from cheroot import wsgi

from sharebackup import logs
from sharebackup.api.app import make_app
from sharebackup.api.runtime import build_runtime
from sharebackup.config import Config
from sharebackup.jobs import claim_limits, job_retention
from sharebackup.jobs.gc_scheduler import start_gc_scheduler
from sharebackup.jobs.metrics import build_registry
from sharebackup.jobs.runners import build_runners
from sharebackup.jobs.worker_pool import WorkerPool
from sharebackup.services.bootstrap import prepare_database

LOG = logging.getLogger(__name__)


def first_admin_token(conf: Config) -> str | None:
    """In tokens mode, a fresh state directory gets an admin token, printed once."""
    if conf.auth_strategy != "tokens":
        return None
    from sharebackup.api.auth.tokens import TokenFile
    tokens = TokenFile(conf.token_path)
    if not tokens.is_empty():
        return None
    return tokens.create("admin", "admin", ["admin", "member", "reader"])


def start_workers(rt, threads: int, metrics=None) -> WorkerPool | None:
    if threads <= 0:
        return None
    pool = WorkerPool(claim_limits.queue_factory(rt), build_runners(rt), threads=threads,
                      metrics=metrics, idle_task=job_retention.idle_task(rt))
    pool.start()
    return pool


def serve(conf: Config) -> int:
    logs.configure(conf)
    conf.state_path.mkdir(parents=True, exist_ok=True)
    rt = build_runtime(conf)
    prepare_database(rt)
    token = first_admin_token(conf)
    registry, job_metrics = build_registry(rt.db)  # one per process: the API's and the workers' metrics
    pool = start_workers(rt, conf.workers, job_metrics)
    rt.wake_workers = pool.wake if pool else None
    gc_scheduler = start_gc_scheduler(rt, pool.wake) if pool else None  # [backup] gc_interval_seconds
    # cheroot listens with a backlog of 5 by default: a burst of clients then sees connection
    # resets before the server ever reads them. oslo.service's default is 4096; the kernel caps it
    # at net.core.somaxconn.
    server = wsgi.Server((conf.host, conf.port), make_app(rt, registry), numthreads=16,
                         server_name="sharebackup", request_queue_size=4096)
    endpoint = f"http://{conf.host}:{conf.port}/v2"
    print(f"sharebackup serving {endpoint} (auth: {conf.auth_strategy}, state: {conf.state_path})", flush=True)
    if token:
        print("Admin token (shown once; more with `sharebackup token create`):", flush=True)
        print(f"  {token}", flush=True)
        print("Try:", flush=True)
        print(f"  openstack --os-auth-type admin_token --os-endpoint {endpoint} --os-token {token} share list",
              flush=True)

    stop = threading.Event()

    def _graceful(signum, _frame):
        LOG.info("signal %s: stopping", signum)
        stop.set()
        # server.stop() waits for the serve loop, which this handler interrupted: stop from a thread
        threading.Thread(target=server.stop, name="sharebackup-stop", daemon=True).start()

    signal.signal(signal.SIGTERM, _graceful)
    signal.signal(signal.SIGINT, _graceful)
    try:
        server.start()
    finally:
        if gc_scheduler is not None:
            gc_scheduler.stop()
        if pool:
            pool.stop()
        rt.db.dispose()
    return 0
