"""The one lease keeper: renews a lease from a thread, and is the one way its holder learns that
the lease is gone.

Every lease in sharebackup works alike: a job's lease in the queue, a repository's lease in the
database (garbage collection), the engine's lock object in the store. Whoever holds one keeps it
by renewing it every ``interval`` seconds, and must stop working, without touching what the next
holder now owns, as soon as it may have lost it. The keeper does the renewing; the holder asks it
``check()`` (raises LeaseLost), ``keep_going()`` (a yes/no with a safety margin), ``remaining()``
or waits on ``lost``.

How the keeper decides that the lease is gone:

- ``renew()`` returns False: the lease is not ours any more (taken over, handed back, expired).
- ``renew()`` raises (the database or the store blinked): logged, and tried again next round,
  because the lease still runs on the last renewal that worked. The keeper knows the lease's
  length, so once renewals have failed until ``lease_seconds`` after the last one that worked
  (or after ``held_since``, when the lease was taken) it has run out for sure: lost.
- The stall rule (``stall_seconds`` > 0): the holder calls ``touch()`` whenever its work moves;
  after ``stall_seconds`` without a touch (the work blocked in read() on a hung mount, say) the
  keeper stops renewing, so the lease runs out and another worker takes the work over. Were it
  to renew regardless, stuck work would hold its lease for ever.

This module imports nothing of sharebackup (the engine, the queue and the workflows all use it),
so it logs with the standard logging module. Its thread runs in a copy of the starting thread's
contextvars, so the log ids a job binds (sharebackup.logs, which keeps them in a ContextVar)
are on the keeper's lines too.
"""
from __future__ import annotations

import contextvars
import logging
import threading
import time
from typing import Callable

LOG = logging.getLogger(__name__)


class LeaseLost(Exception):
    """The lease is gone (taken over, handed back, or left to run out): another holder may have
    the work now, so stop without touching its state."""


class LeaseKeeper:
    """``with LeaseKeeper(renew, interval=..., lease_seconds=...) as keeper:`` renews the lease
    every ``interval`` seconds until the block ends or the lease is lost.

    ``what`` names the lease in log lines and in LeaseLost ("backup 1234", "repository default").
    ``held_since``: the ``clock()`` reading taken just before the lease was acquired or last
    renewed (default: when the keeper starts). ``margin``: the share of ``lease_seconds`` that
    ``keep_going()`` insists on having left. ``clock`` is injectable for tests.
    """

    def __init__(self, renew: Callable[[], bool], *, interval: float, lease_seconds: float,
                 what: str = "a lease", stall_seconds: float = 0.0, margin: float = 0.0,
                 held_since: float | None = None, clock: Callable[[], float] = time.monotonic,
                 thread_name: str = "lease-keeper"):
        if interval <= 0 or lease_seconds <= 0:
            raise ValueError("a lease keeper needs a positive interval and lease length")
        self.renew, self.what, self.thread_name = renew, what, thread_name
        self.interval, self.lease_seconds = float(interval), float(lease_seconds)
        self.stall_seconds, self.margin, self.clock = float(stall_seconds or 0.0), float(margin), clock
        self.lost = threading.Event()  # set once the lease is gone; never cleared
        self.stopped = threading.Event()  # set to end the renewals (leaving the block does)
        now = clock()
        self._valid_until = (now if held_since is None else held_since) + self.lease_seconds
        self._last_touch = now
        self._thread: threading.Thread | None = None

    # -- starting and stopping ----------------------------------------------------------
    def start(self, held_since: float | None = None) -> LeaseKeeper:
        if held_since is not None:
            self._valid_until = held_since + self.lease_seconds
        self._last_touch = self.clock()
        context = contextvars.copy_context()  # the caller's log ids, on the keeper's lines too
        self._thread = threading.Thread(target=context.run, args=(self._run,), name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def __enter__(self) -> LeaseKeeper:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what the holder asks -----------------------------------------------------------
    def touch(self) -> None:
        """The work moved (the stall rule's sign of life); cheap, call it as often as you like."""
        self._last_touch = self.clock()

    def remaining(self) -> float:
        """Seconds the lease is sure to last, from the last renewal that worked (0 once lost)."""
        return 0.0 if self.lost.is_set() else max(0.0, self._valid_until - self.clock())

    def keep_going(self) -> bool:
        """True while the lease is ours with at least ``margin`` of its length sure to be left."""
        left = self.remaining()
        return left > 0 and left >= self.lease_seconds * self.margin

    def check(self) -> None:
        """Raise LeaseLost once the lease is gone."""
        if self.lost.is_set():
            raise LeaseLost(f"the lease of {self.what} is gone; another holder may have the work now")

    # -- the thread ---------------------------------------------------------------------
    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            if self._stalled():
                LOG.warning("%s: no progress for %.0f s; the lease is left to run out so that another "
                            "worker takes the work over", self.what, self.stall_seconds)
                self.lost.set()  # should the work wake up, it stops: it is no longer ours
                return
            if not self._renew_once():
                return

    def _stalled(self) -> bool:
        return self.stall_seconds > 0 and self.clock() - self._last_touch > self.stall_seconds

    def _renew_once(self) -> bool:
        """One renewal; False when the lease is gone and the keeper ends."""
        started = self.clock()
        try:
            alive = self.renew()
        except Exception:  # noqa: BLE001 - the database or store blinked: the lease still runs
            if self.clock() >= self._valid_until:
                LOG.warning("renewing the lease of %s failed until it ran out (%g s); it is lost",
                            self.what, self.lease_seconds, exc_info=True)
                self.lost.set()
                return False
            LOG.warning("renewing the lease of %s failed; trying again while it still runs", self.what,
                        exc_info=True)
            return True
        if not alive:
            LOG.warning("the lease of %s is gone (taken over or handed back); stopping", self.what)
            self.lost.set()
            return False
        self._valid_until = started + self.lease_seconds
        return True
