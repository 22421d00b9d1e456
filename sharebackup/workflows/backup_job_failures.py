"""How a backup job's failures read: an engine or filesystem error in plain words, with the
user message's detail id; and the share directory a job needs, or a JobFailed that says why not."""
from __future__ import annotations

import os
import re

from sharebackup import engine, logs
from sharebackup.db.models import Share
from sharebackup.workflows import backup_repository
from sharebackup.workflows.backup_job_progress import JobFailed
from sharebackup.services import messages
from sharebackup.core.text import display_text

LOG = logs.escaping_logger(__name__)


def describe(exc: BaseException, what: str, snapshot: str | None = None, share_root: str | None = None) -> JobFailed:
    """An exception from the engine or the filesystem as a JobFailed in plain words, for the
    tenant: a file is named by its path inside the share (``share_root``), never by the
    server's path, and the repository's location is left to the log (the caller logs ``exc``).
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
        return JobFailed(f"the backup repository could not be used: {_scrubbed(display_text(exc))}",
                         messages.REPOSITORY_UNAVAILABLE)
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc)
        inside = _inside_share(exc.filename, share_root)
        where = f" ({inside})" if inside else ""
        return JobFailed(f"{what}: {reason}{where}", messages.SHARE_UNREADABLE)
    return JobFailed(f"{what}: {type(exc).__name__}: {exc}")


# an absolute path in an engine message (the repository's files) is the server's business, not the tenant's
_SERVER_PATH = re.compile(r"(?<![\w.~])/[^\s:;,()'\"]+")


def _scrubbed(text: str) -> str:
    return _SERVER_PATH.sub("<server path>", text)


def _inside_share(filename, share_root: str | None) -> str | None:
    """``filename`` as a path inside the share ("/dir/file"), or None when it is not in it (a
    server path the tenant has no business seeing)."""
    if not filename or not share_root:
        return None
    name = os.fsdecode(filename)
    root = os.fsdecode(share_root).rstrip("/")
    if name == root:
        return "/"
    if not name.startswith(root + "/"):
        return None
    # display_text: the engine's names may be bytes (b'd\\xff' is no way to show d\xff)
    return display_text(name[len(root):])


def share_dir(share: Share | None, verb: str) -> str:
    if share is None or share.deleted:
        raise JobFailed(f"the share directory could not be {verb}: the share does not exist any more",
                        messages.SHARE_UNREADABLE)
    if not share.driver_path or not os.path.isdir(share.driver_path):
        LOG.warning("share %s: its directory %s is missing", share.id, share.driver_path)  # the path: for the log only
        raise JobFailed(f"the share directory could not be {verb}: it is missing on the server",
                        messages.SHARE_UNREADABLE)
    return share.driver_path
