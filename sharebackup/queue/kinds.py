"""Every job kind, in one place, as `<resource>.<verb>`.

Services queue jobs by these names and the workers' runners are registered under them
(workflows/runners.py), so the API process imports this module, not the runners and the engine
behind them.
"""
from __future__ import annotations

SHARE_CREATE = "share.create"
SHARE_DELETE = "share.delete"
SHARE_EXTEND = "share.extend"
SHARE_SHRINK = "share.shrink"
SHARE_MANAGE = "share.manage"
SHARE_PURGE = "share.purge"  # a soft-deleted share whose retention time has passed
SHARE_REVERT = "share.revert"

SNAPSHOT_CREATE = "snapshot.create"
SNAPSHOT_DELETE = "snapshot.delete"

BACKUP_CREATE = "share_backup.create"
BACKUP_RESTORE = "share_backup.restore"
BACKUP_DELETE = "share_backup.delete"

REPOSITORY_GC = "repository.gc"

ALL = (SHARE_CREATE, SHARE_DELETE, SHARE_EXTEND, SHARE_SHRINK, SHARE_MANAGE, SHARE_PURGE, SHARE_REVERT,
       SNAPSHOT_CREATE, SNAPSHOT_DELETE, BACKUP_CREATE, BACKUP_RESTORE, BACKUP_DELETE, REPOSITORY_GC)
