"""`sharebackup worker`: a worker pool on its own (no API), for running workers on more hosts.

It claims jobs from the same database as the API processes. On SIGTERM or SIGINT it stops
claiming, gives running jobs ``grace`` seconds to finish, then hands the unfinished ones
back (queued again, lease dropped, the attempt not counted) so another worker takes them
over at once instead of waiting for the lease to run out.
"""
from __future__ import annotations

import logging
import threading

from sharebackup import logs
from sharebackup.core.runtime import build_runtime
from sharebackup.config import Config
from sharebackup.queue.metrics import build_registry
from sharebackup.workflows.worker_host import WorkerHost
from sharebackup.services.bootstrap import prepare_database

LOG = logging.getLogger(__name__)


def run_worker(conf: Config, threads: int | None = None, grace: float = 20.0) -> int:
    logs.configure(conf)
    conf.state_path.mkdir(parents=True, exist_ok=True)
    rt = build_runtime(conf)
    prepare_database(rt)
    count = threads if threads is not None else max(1, conf.workers)
    registry, job_metrics = build_registry(rt.db)
    worker = WorkerHost(rt, count, grace, metrics=job_metrics)
    if conf.metrics_enabled and conf.worker_metrics_port:
        from prometheus_client import start_http_server
        start_http_server(conf.worker_metrics_port, addr=conf.host, registry=registry)
        print(f"sharebackup worker: metrics at http://{conf.host}:{conf.worker_metrics_port}/metrics", flush=True)
    stop = threading.Event()
    worker.on_stop_signals(stop.set, "worker")
    worker.start()
    print(f"sharebackup worker: {count} thread(s) on {worker.host} "
          f"(database: {rt.db.engine.url.render_as_string(hide_password=True)})", flush=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        worker.stop()
        rt.db.dispose()
    return 0
