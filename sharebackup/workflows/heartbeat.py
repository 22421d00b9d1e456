"""A worker process says it is alive: one row (host:pid) whose seen_at it renews every
INTERVAL seconds, removed when the process stops cleanly. A row not renewed for STALE seconds
belongs to a process that died (the console shows it as silent)."""
from __future__ import annotations

import logging
import os
import socket
import threading

from sharebackup.db.models import WorkerHeartbeat, utcnow

LOG = logging.getLogger(__name__)
INTERVAL = 10.0
STALE = 3 * INTERVAL


class Heartbeat:
    def __init__(self, rt, threads: int):
        self.rt, self.threads = rt, threads
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.name = f"{self.host}:{self.pid}"
        self.started_at = utcnow()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "Heartbeat":
        self._thread = threading.Thread(target=self._loop, name="sharebackup-heartbeat", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.beat()
            except Exception:  # the database may be briefly unavailable
                LOG.warning("could not write the worker heartbeat", exc_info=True)
            self._stop.wait(INTERVAL)

    def beat(self) -> None:
        with self.rt.db.transaction() as session:
            row = session.get(WorkerHeartbeat, self.name)
            if row is None:
                session.add(WorkerHeartbeat(name=self.name, host=self.host, pid=self.pid, threads=self.threads,
                                            started_at=self.started_at, seen_at=utcnow()))
            else:
                row.seen_at = utcnow()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            with self.rt.db.transaction() as session:
                row = session.get(WorkerHeartbeat, self.name)
                if row is not None:
                    session.delete(row)
        except Exception:  # noqa: BLE001 - a stale row only shows as silent
            LOG.warning("could not remove the worker heartbeat", exc_info=True)
