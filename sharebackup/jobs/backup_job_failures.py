"""How a backup job's failures read: an engine or filesystem error in plain words, with the
user message's detail id; and the share directory a job needs, or a JobFailed that says why not."""
from __future__ import annotations

import os

from sharebackup import engine
from sharebackup.db.models import Share
from sharebackup.jobs import backup_repository
from sharebackup.jobs.backup_job_progress import JobFailed
from sharebackup.services import messages
from sharebackup.services.text import display_text


def describe(exc: BaseException, what: str, snapshot: str | None = None) -> JobFailed:
    """An exception from the engine or the filesystem as a JobFailed in plain words.
    ``snapshot``: the engine snapshot the job reads (restore), for when it is gone."""
    if isinstance(exc, JobFailed):
        return exc
    if isinstance(exc, engine.SnapshotNotFound) and snapshot:
        # the backup row is there but its data is not (forgotten, or the repository was replaced):
        # nothing about the share is wrong, and retrying will not help
        return JobFailed(f"the backup's data is missing from the repository (snapshot {snapshot} not found); "
                         "the backup cannot be restored", messages.BACKUP_DATA_MISSING)
    if isinstance(exc, backup_repository.UnknownRepository):
        return JobFailed(str(exc), messages.REPOSITORY_UNAVAILABLE)
    if isinstance(exc, (engine.RepositoryError, engine.WrongKeyError, engine.StoreError, engine.LockedError,
                        engine.IntegrityError)):
        return JobFailed(f"the backup repository could not be used: {exc}", messages.REPOSITORY_UNAVAILABLE)
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc)
        # display_text, not f"{filename}": the engine's names may be bytes (b'd\\xff' is no way to show d\xff)
        where = f" ({display_text(exc.filename)})" if exc.filename else ""
        return JobFailed(f"{what}: {reason}{where}", messages.SHARE_UNREADABLE)
    return JobFailed(f"{what}: {type(exc).__name__}: {exc}")


def share_dir(share: Share | None, verb: str) -> str:
    if share is None or share.deleted:
        raise JobFailed(f"the share directory could not be {verb}: the share does not exist any more",
                        messages.SHARE_UNREADABLE)
    if not share.driver_path or not os.path.isdir(share.driver_path):
        raise JobFailed(f"the share directory could not be {verb}: {share.driver_path or 'none'} is not a "
                        "directory", messages.SHARE_UNREADABLE)
    return share.driver_path
