"""Repository locks with leases, stored as `locks/<random id>` objects.

Backups, restores and checks take a shared lock; gc and forget take an exclusive one.
A lock carries an expiry time and a background thread (sharebackup.core.lease_keeper) renews
it (writes a fresh lock object, then deletes the old one) every third of the lease, so a
crashed process's lock simply expires. A renewal the store refuses is tried again next round
while the lease still runs; once renewals have failed for a whole lease the lock is lost
(`lost` is set, `remaining()` says 0) and no new lock object is written. Acquiring writes our lock first and then lists the others: if two
processes race, both see each other and the loser backs off; neither proceeds unsafely.

`acquire(wait=...)` retries for a while instead of failing at once (gc waiting for running
backups to end), and `remaining()` tells how long the lease is sure to last from what this
process last managed to write, so a destructive step can refuse to start on a lease that
may already have run out (a paused process, a store that refused the renewals).
"""

from __future__ import annotations

import json
import os
import threading
import time

from sharebackup.core.lease_keeper import LeaseKeeper
from sharebackup.engine.errors import AbortedError, LockedError, ObjectMissing
from sharebackup.engine.stores.base import Store

DEFAULT_LEASE = 300.0  # seconds
WAIT_POLL = 0.5  # seconds between attempts while waiting for a lock


def _read_lock(store: Store, name: str) -> dict | None:
    try:
        return json.loads(store.get(name))
    except (ObjectMissing, ValueError):
        return None  # vanished or half-visible: treat as absent


class RepoLock:
    def __init__(self, store: Store, *, exclusive: bool, lease: float = DEFAULT_LEASE, purpose: str = ""):
        self.store = store
        self.exclusive = exclusive
        self.lease = lease
        self.purpose = purpose
        self.name: str | None = None
        self._name_lock = threading.Lock()
        self._keeper = self._new_keeper()

    def _new_keeper(self) -> LeaseKeeper:
        return LeaseKeeper(self._renew, interval=self.lease / 3, lease_seconds=self.lease,
                           what=f"the {self.purpose or 'repository'} lock on {self.store.location}",
                           thread_name="repo-lock-renew")

    @property
    def lost(self) -> threading.Event:
        """Set once renewals failed for a whole lease: the lock may be someone else's now."""
        return self._keeper.lost

    @property
    def _stop(self) -> threading.Event:
        """Set to end the renewals (release() does; a test sets it to play a dead process)."""
        return self._keeper.stopped

    def _write(self) -> str:
        now = time.time()
        doc = {
            "exclusive": self.exclusive,
            "purpose": self.purpose,
            "hostname": os.uname().nodename,  # gethostname(), without importing socket
            "pid": os.getpid(),
            "created": now,
            "expires": now + self.lease,
        }
        name = "locks/" + os.urandom(16).hex()
        self.store.put_if_absent(name, json.dumps(doc).encode())
        return name

    def remaining(self) -> float:
        """Seconds our lease is sure to last (0 when not held), from the newest lock object written."""
        return self._keeper.remaining() if self.name else 0.0

    def conflicts(self) -> list[dict]:
        now = time.time()
        found = []
        for info in self.store.list("locks/"):
            if info.name == self.name:
                continue
            doc = _read_lock(self.store, info.name)
            if doc is None or doc.get("expires", 0) < now:
                continue  # expired: its owner is gone
            if self.exclusive or doc.get("exclusive"):
                found.append(doc)
        return found

    def acquire(self, wait: float = 0.0, keep_going=None) -> "RepoLock":
        """Take the lock; while it conflicts, try again for up to `wait` seconds (and only
        while `keep_going()`, if given, says yes; AbortedError otherwise)."""
        deadline = time.monotonic() + wait
        while True:
            try:
                return self._acquire_once()
            except LockedError:
                if time.monotonic() + WAIT_POLL > deadline:
                    raise
            if keep_going is not None and not keep_going():
                raise AbortedError("stopped waiting for the repository lock: the caller asked to stop")
            time.sleep(WAIT_POLL)

    def _acquire_once(self) -> "RepoLock":
        started = time.monotonic()
        self.name = self._write()
        others = self.conflicts()
        if others:
            self._delete(self.name)
            self.name = None
            o = others[0]
            raise LockedError(
                f"repository is locked ({'exclusive' if o.get('exclusive') else 'shared'}, "
                f"{o.get('purpose') or 'unknown'}) by {o.get('hostname')} pid {o.get('pid')}"
            )
        self._keeper = self._new_keeper()  # (a fresh one: a released lock may be taken again)
        self._keeper.start(held_since=started)
        return self

    def _renew(self) -> bool:
        """One renewal for the keeper; a StoreError is retried by it while the lease still runs."""
        new = self._write()
        with self._name_lock:
            old, self.name = self.name, new
        if old:
            self._delete(old)
        return True

    def _delete(self, name: str) -> None:
        try:
            self.store.delete(name)
        except ObjectMissing:
            pass

    def release(self) -> None:
        self._keeper.stop()
        with self._name_lock:
            if self.name:
                self._delete(self.name)
                self.name = None

    def __enter__(self) -> "RepoLock":
        return self.acquire() if self.name is None else self

    def __exit__(self, *exc) -> None:
        self.release()


def remove_expired_locks(store: Store) -> int:
    now = time.time()
    removed = 0
    for info in store.list("locks/"):
        doc = _read_lock(store, info.name)
        if doc is not None and doc.get("expires", 0) < now:
            try:
                store.delete(info.name)
                removed += 1
            except ObjectMissing:
                pass
    return removed
