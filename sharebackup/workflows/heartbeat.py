"""A worker process says it is alive: one row (host:pid) whose seen_at it renews every
INTERVAL seconds, removed when the process stops cleanly. A row not renewed for STALE seconds
belongs to a process that died (the console shows it as silent)."""
from __future__ import annotations

import logging
import os
import socket

from sharebackup.db.models import WorkerHeartbeat, utcnow
from sharebackup.workflows.periodic import Periodic

LOG = logging.getLogger(__name__)
INTERVAL = 10.0
STALE = 3 * INTERVAL


class Heartbeat(Periodic):
    thread_name = "sharebackup-heartbeat"
    failure = "could not write the worker heartbeat"
    tick = INTERVAL

    def __init__(self, rt, threads: int):
        super().__init__()
        self.rt, self.threads = rt, threads
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.name = f"{self.host}:{self.pid}"
        self.started_at = utcnow()

    def run_once(self) -> None:
        self.beat()

    def beat(self) -> None:
        with self.rt.db.transaction() as session:
            row = session.get(WorkerHeartbeat, self.name)
            if row is None:
                session.add(WorkerHeartbeat(name=self.name, host=self.host, pid=self.pid, threads=self.threads,
                                            started_at=self.started_at, seen_at=utcnow()))
            else:
                row.seen_at = utcnow()

    def stop(self, timeout: float = 5.0) -> None:
        super().stop(timeout)
        try:
            with self.rt.db.transaction() as session:
                row = session.get(WorkerHeartbeat, self.name)
                if row is not None:
                    session.delete(row)
        except Exception:  # noqa: BLE001 - a stale row only shows as silent
            LOG.warning("could not remove the worker heartbeat", exc_info=True)
