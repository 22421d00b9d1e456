"""`sharebackup serve`: the embedded default. API + in-process worker pool, one process.

The port is bound before any worker starts, so a second `serve` on a busy port says so in
one line and exits having claimed nothing. On SIGTERM or SIGINT it stops serving, gives
running jobs ``grace`` seconds (none by default: Ctrl-C means now), and hands the unfinished
ones back to the queue, where another process takes them over at once.
"""
from __future__ import annotations

import logging
import shutil
import signal
import sys
import threading
from pathlib import Path

from cheroot import wsgi

from sharebackup import logs
from sharebackup.api.app import make_app
from sharebackup.core.runtime import build_runtime
from sharebackup.config import Config
from sharebackup.queue.metrics import build_registry
from sharebackup.workflows.worker_host import WorkerHost
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


def serve(conf: Config, grace: float = 0.0) -> int:
    logs.configure(conf)
    conf.state_path.mkdir(parents=True, exist_ok=True)
    rt = build_runtime(conf)
    prepare_database(rt)
    registry, job_metrics = build_registry(rt.db)  # one per process: the API's and the workers' metrics
    # cheroot listens with a backlog of 5 by default: a burst of clients then sees connection
    # resets before the server ever reads them. oslo.service's default is 4096; the kernel caps it
    # at net.core.somaxconn.
    server = wsgi.Server((conf.host, conf.port), make_app(rt, registry), numthreads=16,
                         server_name="sharebackup", request_queue_size=4096)
    try:
        server.prepare()  # binds: before any worker may claim a job
    except OSError as exc:
        print(f"sharebackup serve: cannot listen on {conf.host}:{conf.port}: {exc.strerror or exc}",
              file=sys.stderr, flush=True)
        rt.db.dispose()
        return 1
    token = first_admin_token(conf)
    workers = WorkerHost(rt, conf.workers, grace, metrics=job_metrics).start() if conf.workers > 0 else None
    rt.wake_workers = workers.wake if workers else None
    _print_banner(conf, token)

    def _graceful():
        # server.stop() waits for the serve loop, which this handler interrupted: stop from a thread
        threading.Thread(target=server.stop, name="sharebackup-stop", daemon=True).start()

    if workers is not None:
        workers.on_stop_signals(_graceful, "serve")
    else:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: _graceful())
    try:
        server.serve()
    finally:
        if workers is not None:
            workers.stop()
        rt.db.dispose()
    return 0


def _print_banner(conf: Config, token: str | None) -> None:
    endpoint = f"http://{conf.host}:{conf.port}/v2"
    print(f"sharebackup serving {endpoint} (auth: {conf.auth_strategy}, state: {conf.state_path})", flush=True)
    print(f"A share's files live in {conf.shares_path}/<share id> (its export location)", flush=True)
    if token:
        print("Admin token (shown once; more with `sharebackup token create`):", flush=True)
        print(f"  {token}", flush=True)
        print("Try:", flush=True)
        print(f"  {openstack_command()} --os-auth-type admin_token --os-endpoint {endpoint} --os-token {token} "
              "share list", flush=True)


def openstack_command() -> str:
    """The `openstack` that came with this install, as a path that works when pasted: after
    `make run` the virtualenv is not activated, so a bare `openstack` is not on PATH."""
    beside = Path(sys.executable).parent / "openstack"
    if not beside.exists() or shutil.which("openstack") == str(beside):
        return "openstack"
    try:
        return str(beside.relative_to(Path.cwd()))
    except ValueError:
        return str(beside)
