"""share:* (manila/policies/shares.py) with Manila's secure-RBAC defaults.

The three snapshot rules Manila keeps under ``share:`` (create_snapshot, delete_snapshot,
snapshot_update) live in policies/share_snapshots.py and are not registered here.
The target of a rule is the share's project (``{"project_id": share.project_id}``), so a
member of another project fails every rule that names ``project_id``.
"""
from sharebackup.policies import base

CREATE = "share:create"
CREATE_PUBLIC = "share:create_public_share"
GET = "share:get"
GET_ALL = "share:get_all"
UPDATE = "share:update"
SET_PUBLIC = "share:set_public_share"
DELETE = "share:delete"
SOFT_DELETE = "share:soft_delete"
RESTORE = "share:restore"
FORCE_DELETE = "share:force_delete"
MANAGE = "share:manage"
UNMANAGE = "share:unmanage"
LIST_BY_HOST = "share:list_by_host"
LIST_BY_SERVER_ID = "share:list_by_share_server_id"
EXTEND = "share:extend"
FORCE_EXTEND = "share:force_extend"
SHRINK = "share:shrink"
RESET_STATUS = "share:reset_status"
RESET_TASK_STATE = "share:reset_task_state"
REVERT_TO_SNAPSHOT = "share:revert_to_snapshot"
GET_METADATA = "share:get_share_metadata"
UPDATE_METADATA = "share:update_share_metadata"
DELETE_METADATA = "share:delete_share_metadata"
UPDATE_ADMIN_ONLY_METADATA = "share:update_admin_only_metadata"

_ACTION = ("POST", "/shares/{share_id}/action")

rules = [
    base.documented(CREATE, base.ADMIN_OR_PROJECT_MEMBER, "Create share.", [("POST", "/shares")]),
    base.documented(CREATE_PUBLIC, base.ADMIN, "Create shares visible across all projects in the cloud.",
                    [("POST", "/shares")]),
    base.documented(GET, base.ADMIN_OR_PROJECT_READER, "Get share.", [("GET", "/shares/{share_id}")]),
    base.documented(GET_ALL, base.ADMIN_OR_PROJECT_READER, "List shares.",
                    [("GET", "/shares"), ("GET", "/shares/detail")]),
    base.documented(UPDATE, base.ADMIN_OR_PROJECT_MEMBER, "Update share.", [("PUT", "/shares/{share_id}")]),
    base.documented(SET_PUBLIC, base.ADMIN, "Update shares to be visible across all projects in the cloud.",
                    [("PUT", "/shares/{share_id}")]),
    base.documented(DELETE, base.ADMIN_OR_PROJECT_MEMBER, "Delete share.", [("DELETE", "/shares/{share_id}")]),
    base.documented(SOFT_DELETE, base.ADMIN_OR_PROJECT_MEMBER, "Soft delete a share (move it to the recycle bin).",
                    [_ACTION]),
    base.documented(RESTORE, base.ADMIN_OR_PROJECT_MEMBER, "Restore a share from the recycle bin.", [_ACTION]),
    base.documented(FORCE_DELETE, base.ADMIN, "Force Delete a share.", [_ACTION]),
    base.documented(MANAGE, base.ADMIN, "Manage share.", [("POST", "/shares/manage")]),
    base.documented(UNMANAGE, base.ADMIN, "Unmanage share.", [_ACTION]),
    base.documented(LIST_BY_HOST, base.ADMIN, "List share by host.",
                    [("GET", "/shares"), ("GET", "/shares/detail")]),
    base.documented(LIST_BY_SERVER_ID, base.ADMIN, "List share by server id.",
                    [("GET", "/shares"), ("GET", "/shares/detail")]),
    base.documented(EXTEND, base.ADMIN_OR_PROJECT_MEMBER, "Extend share.", [_ACTION]),
    base.documented(FORCE_EXTEND, base.ADMIN, "Force extend share.", [_ACTION]),
    base.documented(SHRINK, base.ADMIN_OR_PROJECT_MEMBER, "Shrink share.", [_ACTION]),
    base.documented(RESET_STATUS, base.ADMIN, "Reset status.", [_ACTION]),
    base.documented(RESET_TASK_STATE, base.ADMIN, "Reset task state.", [_ACTION]),
    base.documented(REVERT_TO_SNAPSHOT, base.ADMIN_OR_PROJECT_MEMBER, "Revert a share to a snapshot.", [_ACTION]),
    base.documented(GET_METADATA, base.ADMIN_OR_PROJECT_READER, "Get share metadata.",
                    [("GET", "/shares/{share_id}/metadata"), ("GET", "/shares/{share_id}/metadata/{key}")]),
    base.documented(UPDATE_METADATA, base.ADMIN_OR_PROJECT_MEMBER, "Update share metadata.",
                    [("PUT", "/shares/{share_id}/metadata"), ("POST", "/shares/{share_id}/metadata"),
                     ("PUT", "/shares/{share_id}/metadata/{key}")]),
    base.documented(DELETE_METADATA, base.ADMIN_OR_PROJECT_MEMBER, "Delete share metadata.",
                    [("DELETE", "/shares/{share_id}/metadata/{key}")]),
    base.documented(UPDATE_ADMIN_ONLY_METADATA, base.ADMIN,
                    'Update metadata items that are considered "admin only" by the service.',
                    [("PUT", "/shares/{share_id}/metadata")]),
]


def list_rules():
    return rules
