"""What a backup or restore job keeps while the engine works: its progress and lease
(JobProgress), the engine's per-file reports (Problems), and the two ways it stops early
(JobFailed with a user message, LeaseLost when another worker has the job now)."""
from __future__ import annotations

import threading
import time

from sqlalchemy import update

from sharebackup import logs
from sharebackup.db.models import ShareBackup
from sharebackup.services import messages
from sharebackup.services.text import display_text

LOG = logs.escaping_logger(__name__)

PROGRESS_WRITE_INTERVAL = 1.0  # seconds between progress writes to the database
MAX_LISTED_PROBLEMS = 5


class LeaseLost(Exception):
    """Another worker has taken the job over; stop without touching the states."""


class JobFailed(Exception):
    """A failure with its message in plain words (and the message's detail id)."""

    def __init__(self, text: str, detail_id: str = messages.UNKNOWN_ERROR):
        text = display_text(text)  # it becomes fail_reason and a user message
        super().__init__(text)
        self.text = text
        self.detail_id = detail_id


class JobProgress:
    """The engine's progress callback for one job, and the lease keeper while the job runs.

    The engine calls it from its threads about ten times a second; the percentage goes to
    the backup's ``column`` at most every PROGRESS_WRITE_INTERVAL seconds (only while the
    backup is still in ``status``). A thread renews the lease; when that fails, the next
    progress call raises LeaseLost, which stops the engine.

    The keeper renews only while the job moves: after ``[backup] job_stall_seconds``
    without a progress call (the engine blocked in read() on a hung mount, say) it lets the
    lease run out, so another worker takes the job over, and the attempts budget ends a
    job that stalls every time. Were it to renew regardless, such a job would hold its
    lease, and its backup would stay in `creating`, for ever.
    """

    def __init__(self, rt, backup_id: str, column: str, status: str, heartbeat):
        self.rt, self.backup_id, self.column, self.status = rt, backup_id, column, status
        self.heartbeat = heartbeat
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._written: str | None = None
        self._last_write = 0.0
        self._last_call = time.monotonic()  # the engine's last sign of life
        self._thread: threading.Thread | None = None

    def __enter__(self) -> JobProgress:
        self._thread = logs.start_thread(self._keep_lease, f"lease-{self.backup_id[:8]}")  # with the job's ids
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _keep_lease(self) -> None:
        every = max(0.05, float(self.rt.config.backup.job_lease_seconds) / 4)
        stall = float(self.rt.config.backup.job_stall_seconds)
        while not self._stop.wait(every):
            if stall > 0 and time.monotonic() - self._last_call > stall:
                LOG.warning("backup %s: no progress for %.0f s (job_stall_seconds); the lease is left to run "
                            "out so that another worker takes the job over", self.backup_id, stall)
                self.lost.set()  # should the engine wake up, it stops: the job is no longer ours
                return
            try:
                alive = self.heartbeat()
            except Exception:  # the database blinked: the lease still runs, try next round
                LOG.warning("renewing the lease of backup %s failed", self.backup_id, exc_info=True)
                continue
            if not alive:
                self.lost.set()
                return

    def check(self) -> None:
        if self.lost.is_set():
            raise LeaseLost(f"the job for backup {self.backup_id} was taken over")

    def __call__(self, done: int, total: int) -> None:
        self._last_call = time.monotonic()
        self.check()
        percent = min(99, done * 100 // total) if total else 0  # "100" only once the job is done
        now = time.monotonic()
        if now - self._last_write < PROGRESS_WRITE_INTERVAL or not self._lock.acquire(blocking=False):
            return
        try:
            if str(percent) != self._written:
                self._write(str(percent))
                self._written = str(percent)
            self._last_write = now
        finally:
            self._lock.release()

    def _write(self, value: str) -> None:
        with self.rt.db.transaction() as session:
            session.execute(update(ShareBackup).where(ShareBackup.id == self.backup_id,
                                                      ShareBackup.status == self.status)
                            .values({self.column: value}))


class Problems:
    """Per-file reports from the engine (any thread), paths and messages as display text."""

    def __init__(self):
        self.items: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, path: str, kind: str, message: str) -> None:
        item = self.entry(path, kind, message)
        with self._lock:
            self.items.append(item)

    @staticmethod
    def entry(path, kind, message) -> tuple[str, str, str]:
        # a path names what is in the share: os.fsdecode'd (lone surrogates) or bytes
        return display_text(path), display_text(kind), display_text(message)

    def summary(self, items=None) -> str:
        items = self.items if items is None else items
        listed = "; ".join(f"{path}: {message}" for path, _kind, message in items[:MAX_LISTED_PROBLEMS])
        more = len(items) - MAX_LISTED_PROBLEMS
        return listed + (f"; and {more} more" if more > 0 else "")
