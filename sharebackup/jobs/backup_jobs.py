"""Runners for share-backup jobs (create, restore, delete). Filled in with the share-backups API."""
from __future__ import annotations

CREATE, RESTORE, DELETE = "share_backup.create", "share_backup.restore", "share_backup.delete"


def runners(rt) -> dict:
    return {}
