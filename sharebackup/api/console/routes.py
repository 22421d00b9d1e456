"""The console's pages on the API's Falcon app (same port, same process), and its static files."""
from __future__ import annotations

from pathlib import Path

from sharebackup.api.console import pages_admin, pages_auth, pages_files, pages_policies, pages_tenant

STATIC = Path(__file__).parent / "static"


def mount(app, strategy) -> None:
    pages = {
        "/console": pages_tenant.Home(),
        "/console/login": pages_auth.Login(strategy),
        "/console/logout": pages_auth.Logout(),
        "/console/shares": pages_tenant.Shares(),
        "/console/shares/{share_id}/backup": pages_tenant.ShareBackupNow(),
        "/console/backups": pages_tenant.Backups(),
        "/console/backups/{backup_id}": pages_files.BackupDetail(),
        "/console/backups/{backup_id}/status": pages_tenant.BackupStatus(),
        "/console/backups/{backup_id}/delete": pages_tenant.BackupDelete(),
        "/console/backups/{backup_id}/download": pages_files.BackupDownload(),
        "/console/backups/{backup_id}/restore": pages_files.BackupRestore(),
        "/console/policies": pages_policies.Policies(),
        "/console/policies/{policy_id}": pages_policies.Policy(),
        "/console/policies/{policy_id}/shares": pages_policies.PolicyShares(),
        "/console/policies/{policy_id}/delete": pages_policies.PolicyDelete(),
        "/console/messages": pages_tenant.Messages(),
        "/console/admin/repositories": pages_admin.Repositories(),
        "/console/admin/jobs": pages_admin.Jobs(),
        "/console/admin/activity": pages_admin.Activity(),
    }
    for path, resource in pages.items():
        app.add_route(path, resource)
    app.add_static_route("/console/static", str(STATIC))
