"""A counting limit on bytes in flight, shared by the backup and restore pipelines."""

from __future__ import annotations

import threading


class ByteBudget:
    """Blocks the producer while too many bytes wait for the workers.

    One request larger than the limit still passes when nothing else is in flight,
    so a single huge item cannot deadlock the pipeline.
    """

    def __init__(self, limit: int):
        self.limit, self.used = limit, 0
        self._cond = threading.Condition()

    def acquire(self, n: int) -> None:
        with self._cond:
            while self.used and self.used + n > self.limit:
                self._cond.wait()
            self.used += n

    def release(self, n: int) -> None:
        with self._cond:
            self.used -= n
            self._cond.notify_all()

    def wait_idle(self) -> None:
        """Block until everything acquired has been released."""
        with self._cond:
            while self.used:
                self._cond.wait()
