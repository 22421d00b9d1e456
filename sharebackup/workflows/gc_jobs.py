"""Garbage collection of a configured repository, coordinated through the database.

One collection (``collect``):
1. take the repository's database lease (purpose "gc"). From then on workers hold back new
   backup, restore and delete jobs on that repository (backup_jobs queues them again a little
   later), so the running ones drain instead of gc starving under steady backup load;
2. wait, up to ``[backup] gc_drain_seconds``, for the engine's exclusive lock, i.e. for the
   backups, restores and checks still running there to end;
3. under that lock forget orphan snapshots (below), then remove unreferenced data
   (``engine.gc`` with ``[backup] gc_grace_seconds``);
4. record ``last_finished_at`` and release the lease.
Before every deletion the engine asks ``keep_going()``: the lease must have at least its
margin left (repository_lease.MARGIN) and the job's own lease must still be ours. A SIGKILL
at any point leaves the repository as a crash of engine gc does (consistent: gc deletes in
crash-safe order) and the lease simply runs out.

Orphan snapshots: backup jobs tag each engine snapshot with the backup's id. A tagged snapshot
is an orphan when its share_backups row is absent or deleted, or when the row records another
snapshot and is no longer being created (the leftover of a job that a second worker re-ran).
Only snapshots whose manifest is older than the grace are considered, so a backup that has just
written its manifest but not yet its row is never touched. Snapshots without such a tag (made
with ``sharebackup repo backup``) are never forgotten here. A repository therefore belongs to
one database: two deployments sharing one would forget each other's snapshots.
"""
from __future__ import annotations

import logging
import uuid

from sqlalchemy import select

from sharebackup import engine
from sharebackup.db.models import Job, ShareBackup
from sharebackup.workflows import backup_repository, repository_lease
from sharebackup.queue import kinds
from sharebackup.queue.lease_queue import Later
from sharebackup.workflows.repository_lease import HeldLease, LeaseHeld
from sharebackup.queue.runner import JobRunner

LOG = logging.getLogger(__name__)

KIND = kinds.REPOSITORY_GC
PURPOSE = "gc"
_ROWS_PER_QUERY = 500


class GcNotDone(Exception):
    """A collection that could not run to its end, said plainly (the job fails with it)."""


def lease_seconds(conf) -> float:
    """As long as a repository lock: a killed collector blocks the repository about as long."""
    return backup_repository.lock_lease_seconds(conf)


def _backup_ids(manifest: dict) -> list[str]:
    found = []
    for tag in manifest.get("tags") or ():
        try:
            found.append(str(uuid.UUID(str(tag))))
        except ValueError:
            continue
    return found


def orphan_snapshots(db, manifests: list[dict]) -> list[str]:
    """The ids of the snapshots among ``manifests`` that no live backup refers to (see above)."""
    by_backup: dict[str, list[str]] = {}
    for manifest in manifests:
        for backup_id in _backup_ids(manifest):
            by_backup.setdefault(backup_id, []).append(manifest["id"])
    rows = {}
    ids = sorted(by_backup)
    with db.reader() as session:
        for start in range(0, len(ids), _ROWS_PER_QUERY):
            chunk = ids[start:start + _ROWS_PER_QUERY]
            for row in session.execute(select(ShareBackup.id, ShareBackup.deleted, ShareBackup.status,
                                              ShareBackup.engine_snapshot_id).where(ShareBackup.id.in_(chunk))):
                rows[row.id] = row
    orphans = []
    for backup_id, snap_ids in by_backup.items():
        row = rows.get(backup_id)
        for snap_id in snap_ids:
            if row is None or row.deleted:
                orphans.append(snap_id)
            elif row.engine_snapshot_id and row.engine_snapshot_id != snap_id and row.status != "creating":
                orphans.append(snap_id)
    return orphans


def collect(rt, name: str, *, grace: float | None = None, wait: float | None = None, holder: str | None = None,
            heartbeat=None) -> dict:
    """One collection of repository ``name`` (see the module docstring); returns the engine's stats.

    Raises LeaseHeld (someone else collects), UnknownRepository, GcNotDone (running backups did
    not end in time, or the lease ran short) and engine errors."""
    conf = rt.config.backup
    grace = conf.gc_grace_seconds if grace is None else grace
    wait = conf.gc_drain_seconds if wait is None else wait
    repo = backup_repository.open_existing_repository(rt.config, name, load_index=False)
    with HeldLease(rt.db, name, PURPOSE, lease_seconds(rt.config), holder=holder, heartbeat=heartbeat,
                   renew_every=float(conf.job_lease_seconds) / 4) as lease:  # the job's lease, as backups do
        if repo is None:
            lease.finish()  # no repository yet: nothing to collect
            return {}
        try:
            stats = engine.gc(repo, grace=grace, wait=wait, keep_going=lease.keep_going,
                              forget=lambda manifests: orphan_snapshots(rt.db, manifests))
        except engine.LockedError as exc:
            raise GcNotDone(f"gc of repository {name!r}: backups, restores or checks still held it after "
                            f"{wait:g} s ({exc}); it is tried again later") from None
        except engine.AbortedError as exc:
            raise GcNotDone(f"gc of repository {name!r} stopped safely: {exc}") from None
        lease.finish()
    return stats


def _collected_since_queued(rt, claim, name: str) -> bool:
    with rt.db.reader() as session:
        job = session.get(Job, claim.id)
        queued_at = job.created_at if job is not None else None
    finished = repository_lease.last_finished(rt.db, name)
    return queued_at is not None and finished is not None and finished >= queued_at


class GcRunner(JobRunner):
    """The `repository.gc` job: one collection of the repository it names."""

    def __call__(self, claim, heartbeat):
        name = claim.payload.get("repository") or claim.resource_id
        if _collected_since_queued(self.rt, claim, name):
            return None  # someone (an admin's `repo gc`) collected after this job was queued
        try:
            stats = collect(self.rt, name, heartbeat=heartbeat)
        except LeaseHeld as exc:
            delay = backup_repository.gc_retry_seconds(self.rt.config)
            LOG.info("gc: %s; trying again in %s s", exc, delay)
            return Later(delay, f"gc: {exc}")
        except backup_repository.UnknownRepository as exc:
            LOG.warning("gc: %s", exc)
            return None
        LOG.info("gc of repository %s done: %s", name, stats)
        return None

    def give_up(self, claim, reason: str) -> None:
        LOG.warning("gc of repository %s given up: %s", claim.payload.get("repository") or claim.resource_id, reason)


def runners(rt) -> dict:
    return {KIND: GcRunner(rt)}
