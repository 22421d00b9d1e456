"""Runners for share jobs: the local driver's side of create, delete, extend, shrink and manage.

Each runner re-reads the share, does the filesystem work, then commits the end state only if
the share is still in the status the job was queued for (an admin may have reset it
meanwhile). Any failure leaves the share in Manila's error status for that operation; a
job whose attempts ran out (``give_up``) does the same, so nothing stays transitional.
"""
from __future__ import annotations

import logging
from pathlib import Path

from sharebackup.core.errors import DomainError
from sharebackup.services.backup_policies import detach_share
from sharebackup.db.models import Share, ShareExportLocation, ShareSnapshot, utcnow
from sharebackup.queue.lease_queue import wait_holding_lease
from sharebackup.queue.runner import JobRunner, StatusRunner
from sharebackup.services import quotas
from sharebackup.services import shares as share_service
from sharebackup.services.shares import (JOB_CREATE, JOB_DELETE, JOB_EXTEND, JOB_MANAGE, JOB_PURGE,
                                         JOB_REVERT, JOB_SHRINK)
from sharebackup.shares import local

LOG = logging.getLogger(__name__)

CREATING = ("creating", "creating_from_snapshot")


def _under(path: Path, root: Path) -> bool:
    try:
        real = path.resolve()
        return root.resolve() in real.parents
    except OSError:
        return False



def _make_available(row: Share, path) -> None:
    """The end of a create or manage: the share is served from ``path``."""
    row.status = "available"
    row.progress = "100%"
    row.updated_at = utcnow()
    if not row.export_locations:
        row.export_locations.append(ShareExportLocation(path=str(path), preferred=True,
                                                        is_admin_only=False, metadata_={}))

class _Runner(StatusRunner):
    """A share job: ``expect`` is the status it was queued for, ``failed`` the status a failure leaves."""

    model = Share


class CreateRunner(_Runner):
    expect = CREATING

    def work(self, share, claim, heartbeat):
        if not wait_holding_lease(self.rt.config.share_create_delay, heartbeat):
            return  # handed back or taken over meanwhile: the job is its new owner's
        path = Path(share.driver_path)
        source = claim.payload.get("source")
        if source:
            local.create_from(Path(source), path)
        else:
            local.create(path)
        with self.rt.db.transaction() as session:
            row = session.get(Share, share.id)
            if row is None or row.deleted or row.status not in CREATING:
                gone = row is None or row.deleted
                if gone and _under(path, self.rt.config.shares_path):
                    local.delete(path)
                return
            _make_available(row, path)


class DeleteRunner(_Runner):
    expect = ("deleting",)
    failed = "error_deleting"

    def work(self, share, claim, heartbeat):
        if not share.is_managed and share.driver_path:
            path = Path(share.driver_path)
            if _under(path, self.rt.config.shares_path):
                local.delete(path)
        with self.rt.db.transaction() as session:
            row = session.get(Share, share.id)
            if row is None or row.deleted or row.status != "deleting":
                return
            row.status = "deleted"
            detach_share(session, row.id)  # a deleted share leaves every backup policy
            row.deleted = True
            row.deleted_at = utcnow()
            row.updated_at = row.deleted_at


class ExtendRunner(_Runner):
    expect = ("extending",)
    failed = "extending_error"

    def work(self, share, claim, heartbeat):
        # A directory has no size limit to raise: the new size is already on the row.
        with self.rt.db.transaction() as session:
            row = session.get(Share, share.id)
            if row is not None and not row.deleted and row.status == "extending":
                row.status = "available"
                row.updated_at = utcnow()


class ShrinkRunner(_Runner):
    expect = ("shrinking",)
    failed = "shrinking_error"

    def work(self, share, claim, heartbeat):
        new_size = int(claim.payload["new_size"])
        used = local.used_bytes(Path(share.driver_path)) if share.driver_path else 0
        with self.rt.db.transaction() as session:
            row = session.get(Share, share.id)
            if row is None or row.deleted or row.status != "shrinking":
                return
            if used > new_size * local.GIB:
                # Manila: ShareShrinkingPossibleDataLoss; the size stays as it was.
                row.status = "shrinking_possible_data_loss_error"
            else:
                row.status = "available"
                row.size = new_size
            row.updated_at = utcnow()


class ManageRunner(_Runner):
    expect = ("manage_starting",)
    failed = "manage_error"

    def work(self, share, claim, heartbeat):
        path = Path(share.driver_path)
        if not path.is_dir():
            raise FileNotFoundError(f"{path} is not a directory any more")
        size = local.size_gib(path)
        with self.rt.db.transaction() as session:
            row = session.get(Share, share.id)
            if row is None or row.deleted or row.status != "manage_starting":
                return
            try:
                quotas.reserve(session, self.rt, row.project_id, row.user_id, {"gigabytes": size})
            except DomainError as refused:  # over quota: the share cannot be adopted
                LOG.warning("managing share %s: %s", row.id, refused.message)
                row.status = "manage_error"
                row.updated_at = utcnow()
                return
            row.size = size
            _make_available(row, path)


class RevertRunner(_Runner):
    expect = ("reverting",)
    failed = "reverting_error"

    def _release_snapshot(self, session, claim) -> None:
        snapshot = session.get(ShareSnapshot, claim.payload.get("snapshot_id"))
        if snapshot is not None and snapshot.status == "restoring":
            snapshot.status = "available"
            snapshot.updated_at = utcnow()

    def fail(self, claim, reason: str) -> None:
        super().fail(claim, reason)
        with self.rt.db.transaction() as session:  # the snapshot it reverted from is free again
            self._release_snapshot(session, claim)

    def work(self, share, claim, heartbeat):
        local.revert(Path(claim.payload["source"]), Path(share.driver_path))
        with self.rt.db.transaction() as session:
            row = session.get(Share, share.id)
            if row is not None and not row.deleted and row.status == "reverting":
                row.status = "available"
                row.updated_at = utcnow()
            self._release_snapshot(session, claim)


class PurgeRunner(JobRunner):
    """The recycle bin's clock: queued with not_before = scheduled_to_be_deleted_at."""

    def __call__(self, claim, heartbeat) -> None:
        share_service.purge_if_expired(self.rt, claim.resource_id)


def runners(rt) -> dict:
    return {JOB_CREATE: CreateRunner(rt), JOB_DELETE: DeleteRunner(rt), JOB_EXTEND: ExtendRunner(rt),
            JOB_SHRINK: ShrinkRunner(rt), JOB_MANAGE: ManageRunner(rt), JOB_PURGE: PurgeRunner(rt),
            JOB_REVERT: RevertRunner(rt)}
