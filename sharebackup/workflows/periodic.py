"""A thread that does one thing every ``tick`` seconds until stopped: the base of a worker
process's gc scheduler, policy scheduler and heartbeat. A failing look is logged and the next
tick tries again (the database may be briefly unavailable)."""
from __future__ import annotations

import logging
import threading

LOG = logging.getLogger(__name__)


class Periodic:
    thread_name = "sharebackup-periodic"
    failure = "a periodic task failed"
    tick = 1.0

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self):
        raise NotImplementedError

    def after(self, result) -> None:
        """Called with what run_once returned (a scheduler wakes the workers when it queued work)."""

    def start(self):
        self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.after(self.run_once())
            except Exception:
                LOG.exception(self.failure)
            self._stop.wait(self.tick)
