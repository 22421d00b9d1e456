"""The delete of a share backup: forget its snapshot in the repository (waiting, lease renewed,
while a backup or restore holds the repository), then mark the row deleted; a failure leaves
`error_deleting` and a user message. A mixin of backup_jobs.BackupRunners, which has the
shared parts (_held_for_gc, _guarded, _finalise)."""
from __future__ import annotations

import time

from sharebackup import engine
from sharebackup.core.lease_keeper import LeaseLost
from sharebackup.db.models import ShareBackup, utcnow
from sharebackup.workflows import backup_repository
from sharebackup.workflows.backup_job_progress import JobFailed
from sharebackup.services import messages

LOCK_WAIT_SECONDS = 10.0  # how long delete waits in place for a backup or restore holding the repository


class BackupDeletes:
    def delete(self, claim, heartbeat):
        with self.rt.db.reader() as session:
            backup = session.get(ShareBackup, claim.resource_id)
            if backup is None or backup.deleted or backup.status != "deleting":
                return None
            snap_id, name = backup.engine_snapshot_id, backup.repository or backup_repository.DEFAULT
        if snap_id and (later := self._held_for_gc(claim, name)):
            return later
        ok, value = self._guarded(claim, f"deleting backup {backup.id}",
                                  lambda: snap_id and self._forget(name, snap_id, heartbeat),
                                  lambda failure: self._delete_failed(backup.id, failure),
                                  "the backup data could not be removed")
        if not ok:
            return value
        with self.rt.db.transaction() as session:
            row = session.get(ShareBackup, backup.id)
            if row is not None and not row.deleted and row.status == "deleting":
                row.status, row.deleted = "deleted", True
                row.deleted_at = row.updated_at = utcnow()

    def _forget(self, name: str, snap_id: str, heartbeat) -> None:
        """Forget the snapshot; a backup or restore holding the repository makes us wait, renewing the lease."""
        repo = backup_repository.open_repository(self.rt.config, name)
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                engine.forget(repo, snap_id)
                return
            except engine.SnapshotNotFound:
                return  # already gone (a retried job): the data is not there any more either way
            except engine.LockedError:
                if time.monotonic() > deadline:
                    raise
                if not heartbeat():
                    raise LeaseLost(snap_id) from None
                time.sleep(1.0)

    def _delete_failed(self, backup_id: str, failure: JobFailed) -> None:
        self._finalise(lambda f: self._write_delete_failed(backup_id, f), failure, f"deleting backup {backup_id}")

    def _write_delete_failed(self, backup_id: str, failure: JobFailed) -> None:
        with self.rt.db.transaction() as session:
            backup = session.get(ShareBackup, backup_id)
            if backup is None or backup.deleted or backup.status != "deleting":
                return
            backup.status = "error_deleting"
            backup.updated_at = utcnow()
            self._message(session, backup.project_id, messages.SHARE_BACKUP, backup.id,
                     messages.DELETE_BACKUP, failure.detail_id, messages.ERROR, failure.text)

    def give_up_delete(self, claim, reason: str) -> None:
        self._delete_failed(claim.resource_id, JobFailed(
            f"the delete was interrupted too many times ({reason})", messages.JOB_INTERRUPTED))
