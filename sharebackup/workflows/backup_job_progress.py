"""What a backup or restore job keeps while the engine works: its progress and lease
(JobProgress), the engine's per-file reports (Problems), and the two ways it stops early
(JobFailed with a user message, LeaseLost when another worker has the job now: the one
sharebackup.core.lease_keeper.LeaseLost, re-exported here)."""
from __future__ import annotations

import threading
import time

from sqlalchemy import update

from sharebackup.core.lease_keeper import LeaseKeeper, LeaseLost  # noqa: F401 - LeaseLost: the jobs' name for it
from sharebackup.db.models import ShareBackup
from sharebackup.services import messages
from sharebackup.core.text import display_text

PROGRESS_WRITE_INTERVAL = 1.0  # seconds between progress writes to the database
MAX_LISTED_PROBLEMS = 5


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
    backup is still in ``status``). A LeaseKeeper renews the lease; once it is lost, the next
    progress call raises LeaseLost, which stops the engine.

    The keeper renews only while the job moves (its stall rule): after ``[backup] job_stall_seconds``
    without a progress call (the engine blocked in read() on a hung mount, say) it lets the
    lease run out, so another worker takes the job over, and the attempts budget ends a
    job that stalls every time. Were it to renew regardless, such a job would hold its
    lease, and its backup would stay in `creating`, for ever.
    """

    def __init__(self, rt, backup_id: str, column: str, status: str, heartbeat):
        self.rt, self.backup_id, self.column, self.status = rt, backup_id, column, status
        self.heartbeat = heartbeat
        lease = float(rt.config.backup.job_lease_seconds)
        self._keeper = LeaseKeeper(heartbeat, interval=max(0.05, lease / 4), lease_seconds=lease,
                                   stall_seconds=float(rt.config.backup.job_stall_seconds),
                                   what=f"backup {backup_id}", thread_name=f"lease-{backup_id[:8]}")
        self.lost = self._keeper.lost
        self._lock = threading.Lock()
        self._written: str | None = None
        self._last_write = 0.0

    def __enter__(self) -> JobProgress:
        self._keeper.start()
        return self

    def __exit__(self, *exc) -> None:
        self._keeper.stop()

    def check(self) -> None:
        self._keeper.check()

    def __call__(self, done: int, total: int) -> None:
        self._keeper.touch()  # the engine's sign of life, for the stall rule
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
