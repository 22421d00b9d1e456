"""GET /sharebackup/v1/share-backups/{backup_id}: a share backup with what Manila's view has no
field for: the backup policy and the run that made it (null for a manual backup)."""
from __future__ import annotations

from sharebackup.api.views.shares import timestamp
from sharebackup.services import share_backups as service


def show_extension_backup(req, resp, backup_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    backup = service.get(rt, ctx, backup_id)
    resp.media = {"share_backup": {
        "id": backup.id, "name": backup.display_name, "share_id": backup.share_id, "status": backup.status,
        "size": backup.size, "backup_type": backup.backup_type, "project_id": backup.project_id,
        "created_at": timestamp(backup.created_at), "updated_at": timestamp(backup.updated_at),
        "policy_id": backup.policy_id, "policy_run_id": backup.policy_run_id,
    }}
