"""share_backup:* (manila/policies/share_backup.py) with Manila's secure-RBAC defaults.

Handlers authorize against the caller's own project (Manila's target), so these rules are
role checks; which backups and shares a caller may touch is the service's business
(project-scoped lookups, admins unscoped).
"""
from sharebackup.policies import base

CREATE = "share_backup:create"
GET = "share_backup:get"
GET_ALL = "share_backup:get_all"
GET_ALL_PROJECT = "share_backup:get_all_project"
UPDATE = "share_backup:update"
DELETE = "share_backup:delete"
RESTORE = "share_backup:restore"
RESET_STATUS = "share_backup:reset_status"

_ACTION = ("POST", "/share-backups/{backup_id}/action")

rules = [
    base.documented(CREATE, base.ADMIN_OR_PROJECT_MEMBER, "Create share backup.", [("POST", "/share-backups")]),
    base.documented(GET, base.ADMIN_OR_PROJECT_READER, "Get share backup.",
                    [("GET", "/share-backups/{backup_id}")]),
    base.documented(GET_ALL, base.ADMIN_OR_PROJECT_READER, "Get all share backups.",
                    [("GET", "/share-backups"), ("GET", "/share-backups/detail"),
                     ("GET", "/share-backups/detail?share_id={share_id}")]),
    base.documented(GET_ALL_PROJECT, base.ADMIN, "Get share backups of all projects.",
                    [("GET", "/share-backups?all_tenants=1"), ("GET", "/share-backups/detail?all_tenants=1")]),
    base.documented(UPDATE, base.ADMIN_OR_PROJECT_MEMBER, "Update a share backup.",
                    [("PUT", "/share-backups/{backup_id}")]),
    base.documented(DELETE, base.ADMIN_OR_PROJECT_MEMBER, "Delete a share backup.",
                    [("DELETE", "/share-backups/{backup_id}")]),
    base.documented(RESTORE, base.ADMIN_OR_PROJECT_MEMBER, "Restore a share backup.", [_ACTION]),
    base.documented(RESET_STATUS, base.ADMIN, "Reset status of a share backup.", [_ACTION]),
]


def list_rules():
    return rules
