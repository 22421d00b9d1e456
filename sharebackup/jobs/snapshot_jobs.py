"""Runners for snapshot jobs: take the copy (creating -> available) and remove it (deleting -> gone).

Both are idempotent: a runner re-reads the row and does nothing when the snapshot has
moved on, so a job that runs twice (its first worker died) or races a force-delete is safe.
"""
from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import select

from sharebackup.db.models import Share, ShareSnapshot, utcnow
from sharebackup.services.snapshots import CREATE_JOB, DELETE_JOB
from sharebackup.shares.local_snapshots import LeaseLost, remove_snapshot, take_snapshot

LOG = logging.getLogger(__name__)


def _set_status(rt, snapshot_id: str, status: str, only_from: tuple[str, ...]) -> None:
    with rt.db.transaction() as session:
        snapshot = session.get(ShareSnapshot, snapshot_id)
        if snapshot is not None and not snapshot.deleted and snapshot.status in only_from:
            snapshot.status = status
            snapshot.updated_at = utcnow()


def runners(rt) -> dict:
    def create(claim, heartbeat) -> None:
        with rt.db.reader() as session:
            snapshot = session.get(ShareSnapshot, claim.resource_id)
            if snapshot is None or snapshot.deleted or snapshot.status != "creating":
                return
            share = session.scalars(select(Share).where(Share.id == snapshot.share_id)).first()
            share_dir = share.driver_path if share is not None else None
        target = Path(rt.config.snapshots_path) / snapshot.id
        if not share_dir:
            LOG.error("snapshot %s: share %s has no directory", snapshot.id, snapshot.share_id)
            _set_status(rt, snapshot.id, "error", ("creating",))
            return
        try:
            take_snapshot(share_dir, target, heartbeat=heartbeat)
        except LeaseLost:
            raise  # another worker has the job now; leave the status to it
        except Exception:
            LOG.exception("snapshot %s of share %s failed", snapshot.id, snapshot.share_id)
            _set_status(rt, snapshot.id, "error", ("creating",))
            return
        with rt.db.transaction() as session:
            row = session.get(ShareSnapshot, snapshot.id)
            done = row is not None and not row.deleted and row.status == "creating"
            if done:
                row.status = "available"
                row.progress = "100%"
                row.driver_path = str(target)
                row.updated_at = utcnow()
        if not done:
            remove_snapshot(target)  # deleted (or reset) while we copied

    def give_up_create(claim, reason) -> None:
        _set_status(rt, claim.resource_id, "error", ("creating",))

    def delete(claim, heartbeat) -> None:
        with rt.db.reader() as session:
            snapshot = session.get(ShareSnapshot, claim.resource_id)
            if snapshot is None or snapshot.deleted or snapshot.status != "deleting":
                return
            paths = {Path(rt.config.snapshots_path) / snapshot.id}
            if snapshot.driver_path:
                paths.add(Path(snapshot.driver_path))
        try:
            for path in paths:
                remove_snapshot(path)
        except Exception:
            LOG.exception("removing snapshot %s failed", snapshot.id)
            _set_status(rt, snapshot.id, "error_deleting", ("deleting",))
            return
        with rt.db.transaction() as session:
            row = session.get(ShareSnapshot, snapshot.id)
            if row is not None and not row.deleted and row.status == "deleting":
                row.status = "deleted"
                row.deleted = True
                row.deleted_at = utcnow()
                row.updated_at = utcnow()

    def give_up_delete(claim, reason) -> None:
        _set_status(rt, claim.resource_id, "error_deleting", ("deleting",))

    create.give_up = give_up_create
    delete.give_up = give_up_delete
    return {CREATE_JOB: create, DELETE_JOB: delete}
