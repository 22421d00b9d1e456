"""Progress and per-file reports shared by backup and restore.

`progress(done_bytes, total_bytes)` may be called from any engine thread; the engine
throttles calls to about ten a second plus a final one. `report(path, kind, message)`
is called once per file problem (kind: vanished, changed, error, skipped), with the
path and message as valid UTF-8 text (safe_fs.display).
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from sharebackup.engine.safe_fs import display

ProgressCallback = Callable[[int, int], None]
ReportCallback = Callable[[str, str, str], None]

MAX_KEPT_WARNINGS = 1000


class ProgressTracker:
    def __init__(self, callback: ProgressCallback | None, total: int = 0, interval: float = 0.1):
        self.callback = callback
        self.total = total
        self.done = 0
        self.interval = interval
        self._last = 0.0
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        # locked even without a callback: a backup's reader thread and a restore's writer
        # threads add beside each other, and `done` is the snapshot's total_bytes
        with self._lock:
            self.done += n
            if self.callback is None:
                return
            now = time.monotonic()
            if now - self._last < self.interval:
                return
            self._last = now
            done, total = self.done, max(self.total, self.done)
        self.callback(done, total)

    def finish(self) -> None:
        if self.callback is not None:
            self.callback(self.done, max(self.total, self.done))


class Reporter:
    """Collects per-file problems for the snapshot summary and forwards them."""

    def __init__(self, callback: ReportCallback | None):
        self.callback = callback
        self.items: list[dict] = []
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, path: str | bytes, kind: str, message: str) -> None:
        # A share's names are any bytes; what leaves the engine is readable UTF-8 text
        # (\xNN for undecodable bytes), which every log, database and JSON body accepts.
        path, message = display(path), display(message)
        with self._lock:
            self.count += 1
            if len(self.items) < MAX_KEPT_WARNINGS:
                self.items.append({"path": path, "kind": kind, "message": message})
        if self.callback is not None:
            self.callback(path, kind, message)
