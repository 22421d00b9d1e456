"""What one worker process may claim: at most ``[backup] max_operations`` backup and restore jobs
at once (Cinder's backup_max_operations), and only jobs of its ``[backup] worker_availability_zone``.

The operation limit is a semaphore shared by the threads of one process. A thread takes a slot
before it claims; while no slot is free it still claims every other kind of job (shares,
snapshots, backup deletes), so those never wait behind backups. The slot is given back when
the thread claims again: a WorkerPool thread claims, runs the job to its end, then claims
again, so "claims again" means "its previous job is over".
"""
from __future__ import annotations

import threading
from typing import Callable

from sharebackup.workflows.backup_jobs import CREATE, RESTORE
from sharebackup.queue.lease_queue import Claim, LeaseQueue

LIMITED_KINDS = (CREATE, RESTORE)


class OperationSlots:
    """At most ``limit`` limited jobs at once in this process (0: no limit)."""

    def __init__(self, limit: int, kinds: tuple[str, ...] = LIMITED_KINDS):
        self.limit = limit
        self.kinds = frozenset(kinds)
        self._slots = threading.BoundedSemaphore(limit) if limit > 0 else None

    def try_take(self) -> bool:
        return self._slots is None or self._slots.acquire(blocking=False)

    def give_back(self) -> None:
        if self._slots is not None:
            self._slots.release()


class LimitedLeaseQueue(LeaseQueue):
    """One thread's lease queue that honours the process's OperationSlots."""

    def __init__(self, db, owner: str, lease_seconds: float, slots: OperationSlots,
                 availability_zone: str | None = None):
        super().__init__(db, owner, lease_seconds, availability_zone=availability_zone)
        self.slots = slots
        self._holding = False

    def _give_back(self) -> None:
        if self._holding:
            self._holding = False
            self.slots.give_back()

    def claim(self, kinds: list[str] | None = None) -> Claim | None:
        self._give_back()  # the job this thread claimed before has ended
        if self.slots.limit <= 0:
            return super().claim(kinds)
        if not self.slots.try_take():
            if kinds is None:
                raise ValueError("a limited queue needs the list of kinds it may claim")
            others = [kind for kind in kinds if kind not in self.slots.kinds]
            return super().claim(others) if others else None
        claim = None
        try:
            claim = super().claim(kinds)
        finally:
            if claim is not None and claim.kind in self.slots.kinds:
                self._holding = True
            else:
                self.slots.give_back()
        return claim


def queue_factory(rt) -> Callable[[str], LeaseQueue]:
    """owner -> lease queue for the threads of one worker process, from ``[backup]``."""
    conf = rt.config.backup
    slots = OperationSlots(conf.max_operations)
    lease = float(conf.job_lease_seconds)
    zone = conf.worker_availability_zone or None

    def make(owner: str) -> LeaseQueue:
        return LimitedLeaseQueue(rt.db, owner, lease, slots, availability_zone=zone)
    return make
