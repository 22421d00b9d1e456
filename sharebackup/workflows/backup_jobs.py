"""Runners for share-backup jobs: create, restore and delete, done by the backup engine.

The API has already set the request-time states (backup creating/restoring/deleting, share
backup_creating/backup_restoring) and queued the job with resource_id = backup id. A runner
re-reads the rows, marks the backup as taken (host, topic), does the engine work while it
writes progress (a whole percentage of bytes, at most about once a second) and renews the
job's lease, then commits the end state only if the rows are still where the job left them.

Every failure ends in Manila's failed state for that operation plus a user message that says
why; a job whose attempts ran out (``give_up``: its workers kept dying) does the same, so
nothing stays transitional. When the lease is lost (heartbeat False: another worker has the
job now) the runner stops and leaves the states to the new owner.

Text from the engine (file names are bytes there, and need not be UTF-8) passes through
``display_text`` where it enters this module (Problems, JobFailed, _describe), so no row,
message or log line gets a character the database or a log reader cannot take. Should
writing a failed end state raise all the same, it is written once more with a plain text
(``_finalise``): a failure handler that fails must not leave the states transitional.

While garbage collection holds the repository's database lease (gc_jobs), a job does not start:
it is queued again a little later, counting neither an attempt nor a lock retry, so the backups
already running drain and gc gets the repository.
"""
from __future__ import annotations

import socket
from dataclasses import dataclass

from sqlalchemy import select

from sharebackup import engine, logs
from sharebackup.db.models import Share, ShareBackup, utcnow
from sharebackup.workflows import backup_repository, repository_lease
from sharebackup.queue import kinds
from sharebackup.workflows.backup_job_failures import describe as _describe, share_dir as _share_dir
from sharebackup.workflows.backup_job_progress import JobFailed, JobProgress, LeaseLost, Problems  # noqa: F401
from sharebackup.queue.lease_queue import Later, wait_holding_lease
from sharebackup.queue.metrics import JobResult
from sharebackup.workflows.backup_delete_job import BackupDeletes
from sharebackup.queue.runner import JobRunner
from sharebackup.services import messages
from sharebackup.core.text import display_text

LOG = logs.escaping_logger(__name__)  # engine text and runner errors may quote undecodable names

CREATE, RESTORE, DELETE = kinds.BACKUP_CREATE, kinds.BACKUP_RESTORE, kinds.BACKUP_DELETE
TOPIC = "manila-data"
LOCK_RETRY_LIMIT = 120  # a locked repository puts a job off this many times before it counts as unusable
# the text a failed state gets when its own text could not be written (see _finalise)
UNRECORDED = "the reason could not be recorded; the worker's log has it"


@dataclass(frozen=True)
class _CreateStart:
    """What a backup job read when it took the backup."""
    backup_id: str
    share_id: str
    repository: str | None
    parent: str | None  # the engine snapshot of the share's newest available backup there
    share_path: str | None


def _log_failure(what: str, exc: BaseException) -> None:
    """A JobFailed is an expected end, told in its own words: no traceback. Anything else
    gets one, for whoever has to find out why."""
    if isinstance(exc, JobFailed):
        LOG.warning("%s failed: %s", what, exc.text)
    else:
        LOG.warning("%s failed: %s", what, display_text(exc), exc_info=True)


def _message(rt, session, project_id, resource_type, resource_id, action, detail_id, level, text) -> None:
    messages.create_message(session, project_id, resource_type, resource_id, action[0], detail_id, level,
                            f"{action[1]}: {text}", ttl_seconds=rt.config.message_ttl)


class BackupRunners(BackupDeletes):
    def __init__(self, rt):
        self.rt = rt
        self.host = socket.gethostname()

    def _message(self, session, *fields) -> None:
        _message(self.rt, session, *fields)

    @property
    def exclude(self) -> tuple:
        return tuple(self.rt.config.backup.ignore_files)

    # -- waiting for garbage collection -------------------------------------------------
    def _held_for_gc(self, claim, name: str | None) -> Later | None:
        """Later (the job goes back in the queue) when gc holds repository ``name``."""
        if name is None:
            return None
        holder = repository_lease.held_by_other(self.rt.db, name)
        if holder is None:
            return None
        delay = backup_repository.gc_retry_seconds(self.rt.config)
        LOG.info("%s of backup %s: %s; trying again in %s s", claim.kind, claim.resource_id, holder.describe(), delay)
        return Later(delay, f"waiting for gc: {holder.describe()}")

    def _repository_of(self, backup_id: str) -> str | None:
        with self.rt.db.reader() as session:
            backup = session.get(ShareBackup, backup_id)
            return None if backup is None else (backup.repository or backup_repository.DEFAULT)

    # -- create -------------------------------------------------------------------------
    def create(self, claim, heartbeat) -> JobResult | None:
        try:
            wanted = backup_repository.repository_name(self.rt.config, claim.payload.get("backup_options"))
        except backup_repository.UnknownRepository:
            wanted = None  # fails below, with its message
        if later := self._held_for_gc(claim, wanted):
            return later
        start = self._start_create(claim, wanted)
        if start is None:
            return None  # reset, deleted or done already
        if not wait_holding_lease(self.rt.config.backup_create_delay, heartbeat):
            return None  # handed back or taken over meanwhile: the job is its new owner's
        problems = Problems()
        ok, value = self._guarded(claim, f"backup {start.backup_id} of share {start.share_id}",
                                  lambda: self._read_share(claim, start, heartbeat, problems),
                                  lambda failure: self._create_failed(start.backup_id, failure),
                                  "the share directory could not be read", share_root=start.share_path)
        if not ok:
            return value
        snap_id, repo = value
        self._create_done(start.backup_id, start.repository, snap_id, problems)
        try:
            return JobResult.from_backup_summary(start.repository, repo.load_snapshot(snap_id).get("summary", {}))
        except Exception:  # noqa: BLE001 - the metrics are not worth failing a finished backup
            LOG.warning("could not read the summary of snapshot %s for the metrics", snap_id, exc_info=True)
            return None

    def _start_create(self, claim, name: str | None) -> "_CreateStart | None":
        """Take the backup (host, topic, progress 0) if it still waits in `creating`, and find the
        parent: the share's newest available backup in the same repository."""
        with self.rt.db.transaction() as session:
            backup = session.get(ShareBackup, claim.resource_id)
            if backup is None or backup.deleted or backup.status != "creating":
                return None
            backup.host, backup.topic, backup.progress = self.host, TOPIC, "0"
            backup.repository = name
            parent = None
            if name is not None:
                parent = session.scalars(
                    select(ShareBackup.engine_snapshot_id)
                    .where(ShareBackup.share_id == backup.share_id, ShareBackup.deleted.is_(False),
                           ShareBackup.status == "available", ShareBackup.repository == name,
                           ShareBackup.engine_snapshot_id.is_not(None), ShareBackup.id != backup.id)
                    .order_by(ShareBackup.created_at.desc()).limit(1)).first()
            share = session.get(Share, backup.share_id)
            return _CreateStart(backup.id, backup.share_id, name, parent,
                                share.driver_path if share is not None else None)

    def _read_share(self, claim, start: "_CreateStart", heartbeat, problems: Problems):
        """The engine's backup of the share; (snapshot id, repository)."""
        with self.rt.db.reader() as session:
            _share_dir(session.get(Share, start.share_id), "read")
        name = backup_repository.repository_name(self.rt.config, claim.payload.get("backup_options"))
        repo = backup_repository.open_repository(self.rt.config, name)
        parent = start.parent
        if parent is not None:
            try:
                repo.resolve_snapshot(parent)
            except engine.SnapshotNotFound:
                parent = None  # the previous snapshot is gone: a full read, still deduplicated
        with JobProgress(self.rt, start.backup_id, "progress", "creating", heartbeat) as progress:
            snap_id = engine.backup(repo, start.share_path, parent=parent, progress=progress, report=problems,
                                    hostname=self.host, tags=[start.backup_id],
                                    options=engine.BackupOptions(exclude_names=self.exclude))
            progress.check()
        unreadable = [message for path, kind, message in problems.items if path == "/" and kind == "error"]
        if unreadable:  # the engine reports an unlistable root and goes on; for us that is no backup
            engine.forget(repo, snap_id)
            raise JobFailed(f"the share directory could not be read: {unreadable[0]}", messages.SHARE_UNREADABLE)
        return snap_id, repo

    def _create_done(self, backup_id: str, name: str, snap_id: str, problems: Problems) -> None:
        warning = None
        if problems.items:
            warning = (f"the backup is available, but {len(problems.items)} file(s) may be missing or "
                       f"inconsistent in it: {problems.summary()}")
        try:
            forget = self._write_create_done(backup_id, name, snap_id, warning)
        except Exception:  # noqa: BLE001 - the backup is good: it must not stay creating for its warning
            if warning is None:
                raise
            LOG.exception("recording backup %s as available failed; recording it without the list of files "
                          "(%s)", backup_id, warning)
            forget = self._write_create_done(backup_id, name, snap_id, (
                f"the backup is available, but {len(problems.items)} file(s) may be missing or inconsistent in "
                "it (the list could not be recorded; the worker's log has it)"))
        if forget:
            try:
                engine.forget(backup_repository.open_repository(self.rt.config, name), snap_id)
            except Exception:  # noqa: BLE001 - garbage at worst; gc never removes referenced data
                LOG.warning("could not forget snapshot %s of deleted backup %s", snap_id, backup_id, exc_info=True)

    def _write_create_done(self, backup_id: str, name: str, snap_id: str, warning: str | None) -> bool:
        """The backup's end state (and ``warning`` as a message); True when it was deleted meanwhile."""
        forget = False
        with self.rt.db.transaction() as session:
            backup = session.get(ShareBackup, backup_id)
            if backup is None or backup.deleted:
                forget = True  # deleted while we worked: nobody will ever refer to the snapshot
            else:
                if backup.engine_snapshot_id is None or backup.status == "creating":
                    backup.engine_snapshot_id, backup.repository = snap_id, name
                if backup.status == "creating":
                    backup.status, backup.progress = "available", "100"
                    backup.updated_at = utcnow()
                    self._release_share(session, backup.share_id, "backup_creating", "available")
                    if warning is not None:
                        _message(self.rt, session, backup.project_id, messages.SHARE_BACKUP, backup.id,
                                 messages.CREATE_BACKUP, messages.FILES_SKIPPED, messages.WARNING, warning)
        return forget

    def _finalise(self, write, failure: JobFailed, what: str) -> None:
        """``write(failure)``: a failed end state and its message, in one transaction. Should that
        raise, the states would stay transitional for ever (the job is failed by then, nobody runs
        it again): so it is written once more with a plain text. Only when that fails too (the
        database is away) does the exception reach the worker."""
        try:
            write(failure)
        except Exception:  # noqa: BLE001
            LOG.exception("recording the failure of %s failed; recording it without its reason (%s)", what,
                          failure.text)
            write(JobFailed(UNRECORDED, failure.detail_id))

    def _create_failed(self, backup_id: str, failure: JobFailed) -> None:
        self._finalise(lambda f: self._write_create_failed(backup_id, f), failure, f"backup {backup_id}")

    def _write_create_failed(self, backup_id: str, failure: JobFailed) -> None:
        with self.rt.db.transaction() as session:
            backup = session.get(ShareBackup, backup_id)
            if backup is None or backup.deleted or backup.status != "creating":
                return
            backup.status, backup.fail_reason = "error", failure.text[:1023]
            backup.updated_at = utcnow()
            self._release_share(session, backup.share_id, "backup_creating", "available")
            _message(self.rt, session, backup.project_id, messages.SHARE_BACKUP, backup.id,
                     messages.CREATE_BACKUP, failure.detail_id, messages.ERROR, failure.text)

    def _guarded(self, claim, subject: str, body, failed, what: str, **describe) -> tuple[bool, object]:
        """``body()`` with the three ends every backup job shares: (True, its value); or (False,
        None) when the lease was lost (another worker has the job: touch nothing) or the job
        failed (``failed(JobFailed)`` wrote the failed state and message); or (False, Later)
        when the repository is locked and the job goes back in the queue."""
        try:
            return True, body()
        except LeaseLost:
            LOG.info("%s: lease lost, another worker continues", subject)
            return False, None
        except engine.LockedError as exc:
            if later := self._requeue(claim, exc):
                return False, later
            failed(_describe(exc, "", **describe))
            return False, None
        except Exception as exc:  # noqa: BLE001 - every failure ends in a clear state
            _log_failure(subject, exc)
            failed(_describe(exc, what, **describe))
            return False, None

    def _requeue(self, claim, exc: Exception) -> Later | None:
        """The repository is locked (gc, or a forget racing a backup): Later, to queue the job
        again a little later instead of failing it; None once that has happened too often."""
        tries = int(claim.payload.get("lock_retries", 0))
        if tries >= LOCK_RETRY_LIMIT:
            return None
        # A dead worker's lock runs out within one lock lease: no point waiting longer.
        delay = min(backup_repository.LOCK_RETRY_SECONDS, backup_repository.lock_lease_seconds(self.rt.config))
        LOG.info("%s of backup %s: %s; trying again in %s s", claim.kind, claim.resource_id, display_text(exc), delay)
        return Later(delay, f"repository locked: {display_text(exc)}", {**claim.payload, "lock_retries": tries + 1})

    @staticmethod
    def _release_share(session, share_id: str, expect: str, status: str) -> None:
        share = session.get(Share, share_id)
        if share is not None and not share.deleted and share.status == expect:
            share.status = status
            share.updated_at = utcnow()

    def give_up_create(self, claim, reason: str) -> None:
        self._create_failed(claim.resource_id, JobFailed(
            f"the backup was interrupted too many times ({reason})", messages.JOB_INTERRUPTED))

    # -- restore ------------------------------------------------------------------------
    def _target_id(self, claim, backup: ShareBackup) -> str:
        return claim.payload.get("share_id") or backup.share_id

    def restore(self, claim, heartbeat) -> JobResult | None:
        if later := self._held_for_gc(claim, self._repository_of(claim.resource_id)):
            return later
        with self.rt.db.transaction() as session:
            backup = session.get(ShareBackup, claim.resource_id)
            if backup is None or backup.deleted or backup.status != "restoring":
                return
            backup.host, backup.topic, backup.restore_progress = self.host, TOPIC, "0"
            target_id = self._target_id(claim, backup)
            snap_id, name = backup.engine_snapshot_id, backup.repository or backup_repository.DEFAULT
        with self.rt.db.reader() as session:  # where the tenant's files are, to name them inside the share
            share = session.get(Share, target_id)
            target_root = share.driver_path if share is not None else None
        ok, summary = self._guarded(claim, f"restore of backup {backup.id} into share {target_id}",
                                    lambda: self._write_share(backup.id, target_id, snap_id, name, heartbeat,
                                                              claim.payload),
                                    lambda failure: self._restore_failed(backup.id, target_id, failure),
                                    "the share directory could not be written", snapshot=snap_id,
                                    share_root=target_root)
        if not ok:
            return summary
        with self.rt.db.transaction() as session:
            row = session.get(ShareBackup, backup.id)
            if row is not None and not row.deleted and row.status == "restoring":
                row.status, row.restore_progress = "available", "100"
                row.updated_at = utcnow()
            self._release_share(session, target_id, "backup_restoring", "available")
        return JobResult(name, restored=int(summary.get("bytes", 0)))

    def _write_share(self, backup_id: str, target_id: str, snap_id: str | None, name: str, heartbeat,
                     payload: dict) -> dict:
        """The engine's restore into the target share; its summary. A partial restore
        (/sharebackup/v1) names paths, a directory of the share to restore into, and a mode."""
        if not snap_id:
            raise JobFailed("the backup holds no data to restore", messages.RESTORE_INCOMPLETE)
        with self.rt.db.reader() as session:
            target = _share_dir(session.get(Share, target_id), "written")
        repo = backup_repository.open_repository(self.rt.config, name)
        problems = Problems()
        with JobProgress(self.rt, backup_id, "restore_progress", "restoring", heartbeat) as progress:
            summary = engine.restore(repo, snap_id, target, mode=payload.get("mode") or "merge", progress=progress,
                                     report=problems, exclude_names=self.exclude, include=payload.get("paths") or (),
                                     target_subdir=payload.get("target_path") or "")
            progress.check()
        if summary["errors"]:
            errors = [Problems.entry(e["path"], e["kind"], e["message"]) for e in summary["errors"]]
            raise JobFailed(f"{len(errors)} file(s) could not be restored: {problems.summary(errors)}",
                            messages.RESTORE_INCOMPLETE)
        return summary

    def _restore_failed(self, backup_id: str, target_id: str, failure: JobFailed) -> None:
        self._finalise(lambda f: self._write_restore_failed(backup_id, target_id, f), failure,
                       f"the restore of backup {backup_id}")

    def _write_restore_failed(self, backup_id: str, target_id: str, failure: JobFailed) -> None:
        with self.rt.db.transaction() as session:
            backup = session.get(ShareBackup, backup_id)
            if backup is not None and not backup.deleted and backup.status == "restoring":
                backup.status = "available"  # the backup itself is fine (Manila's generic path)
                backup.updated_at = utcnow()
            share = session.get(Share, target_id)
            if share is not None and not share.deleted and share.status == "backup_restoring":
                share.status = "backup_restoring_error"
                share.updated_at = utcnow()
            project = share.project_id if share is not None else (backup.project_id if backup else None)
            if project is not None:
                _message(self.rt, session, project, messages.SHARE, target_id, messages.RESTORE_BACKUP,
                         failure.detail_id, messages.ERROR, failure.text)

    def give_up_restore(self, claim, reason: str) -> None:
        with self.rt.db.reader() as session:
            backup = session.get(ShareBackup, claim.resource_id)
            if backup is None or backup.deleted or backup.status != "restoring":
                return
            target_id = self._target_id(claim, backup)
        self._restore_failed(claim.resource_id, target_id, JobFailed(
            f"the restore was interrupted too many times ({reason})", messages.JOB_INTERRUPTED))

class _BackupJob(JobRunner):
    """One kind of backup job, run by the shared BackupRunners (``do``; ``undo`` gives up)."""

    def __init__(self, rt, do, undo):
        super().__init__(rt)
        self.do, self.undo = do, undo

    def __call__(self, claim, heartbeat):
        return self.do(claim, heartbeat)

    def give_up(self, claim, reason: str) -> None:
        self.undo(claim, reason)

    def log_ids(self, claim) -> dict:
        return {"backup_id": claim.resource_id}  # every backup job's resource is a backup


def runners(rt) -> dict:
    jobs = BackupRunners(rt)
    return {CREATE: _BackupJob(rt, jobs.create, jobs.give_up_create),
            RESTORE: _BackupJob(rt, jobs.restore, jobs.give_up_restore),
            DELETE: _BackupJob(rt, jobs.delete, jobs.give_up_delete)}
