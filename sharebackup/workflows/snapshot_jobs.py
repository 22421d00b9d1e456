"""Runners for snapshot jobs: take the copy (creating -> available) and remove it (deleting -> gone).

Both are idempotent (runner.StatusRunner): a runner re-reads the row and does nothing when the
snapshot has moved on, so a job that runs twice (its first worker died) or races a force-delete
is safe.
"""
from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import select

from sharebackup.db.models import Share, ShareSnapshot, utcnow
from sharebackup.queue.runner import StatusRunner
from sharebackup.services.snapshots import CREATE_JOB, DELETE_JOB
from sharebackup.shares.local_snapshots import remove_snapshot, take_snapshot

LOG = logging.getLogger(__name__)


class CreateSnapshot(StatusRunner):
    model = ShareSnapshot
    expect = ("creating",)
    failed = "error"

    def work(self, snapshot, claim, heartbeat) -> None:
        with self.rt.db.reader() as session:
            share = session.scalars(select(Share).where(Share.id == snapshot.share_id)).first()
            share_dir = share.driver_path if share is not None else None
        if not share_dir:
            raise FileNotFoundError(f"share {snapshot.share_id} has no directory")
        target = Path(self.rt.config.snapshots_path) / snapshot.id
        take_snapshot(share_dir, target, heartbeat=heartbeat)

        def available(session, row):
            row.status, row.progress, row.driver_path = "available", "100%", str(target)
        if not self.finish(snapshot.id, available):
            remove_snapshot(target)  # deleted (or reset) while we copied


class DeleteSnapshot(StatusRunner):
    model = ShareSnapshot
    expect = ("deleting",)
    failed = "error_deleting"

    def work(self, snapshot, claim, heartbeat) -> None:
        paths = {Path(self.rt.config.snapshots_path) / snapshot.id}
        if snapshot.driver_path:
            paths.add(Path(snapshot.driver_path))
        for path in paths:
            remove_snapshot(path)

        def deleted(session, row):
            row.status, row.deleted, row.deleted_at = "deleted", True, utcnow()
        self.finish(snapshot.id, deleted)


def runners(rt) -> dict:
    return {CREATE_JOB: CreateSnapshot(rt), DELETE_JOB: DeleteSnapshot(rt)}
