"""share_snapshot:* (manila/policies/share_snapshot.py) plus the three snapshot rules Manila
keeps under ``share:`` (create_snapshot, delete_snapshot, snapshot_update in
manila/policies/shares.py). They live here, with the snapshot API; the shares module must
not register them again (oslo.policy refuses duplicate names)."""
from sharebackup.policies import base

GET = "share_snapshot:get_snapshot"
GET_ALL = "share_snapshot:get_all_snapshots"
FORCE_DELETE = "share_snapshot:force_delete"
RESET_STATUS = "share_snapshot:reset_status"
CREATE = "share:create_snapshot"
DELETE = "share:delete_snapshot"
UPDATE = "share:snapshot_update"
EXPORT_LOCATION_INDEX = "share_snapshot_export_location:index"
EXPORT_LOCATION_SHOW = "share_snapshot_export_location:show"

rules = [
    base.documented(GET, base.ADMIN_OR_PROJECT_READER, "Get share snapshot.",
                    [("GET", "/snapshots/{snapshot_id}")]),
    base.documented(GET_ALL, base.ADMIN_OR_PROJECT_READER, "Get all share snapshots.",
                    [("GET", "/snapshots"), ("GET", "/snapshots/detail"),
                     ("GET", "/snapshots?{query}"), ("GET", "/snapshots/detail?{query}")]),
    base.documented(FORCE_DELETE, base.ADMIN, "Force Delete a share snapshot.",
                    [("POST", "/snapshots/{snapshot_id}/action")]),
    base.documented(RESET_STATUS, base.ADMIN, "Reset status.",
                    [("POST", "/snapshots/{snapshot_id}/action")]),
    base.documented(CREATE, base.ADMIN_OR_PROJECT_MEMBER, "Create share snapshot.",
                    [("POST", "/snapshots")]),
    base.documented(DELETE, base.ADMIN_OR_PROJECT_MEMBER, "Delete share snapshot.",
                    [("DELETE", "/snapshots/{snapshot_id}")]),
    base.documented(UPDATE, base.ADMIN_OR_PROJECT_MEMBER, "Update share snapshot.",
                    [("PUT", "/snapshots/{snapshot_id}")]),
    base.documented(EXPORT_LOCATION_INDEX, base.ADMIN_OR_PROJECT_READER,
                    "List export locations of a share snapshot.",
                    [("GET", "/snapshots/{snapshot_id}/export-locations/")]),
    base.documented(EXPORT_LOCATION_SHOW, base.ADMIN_OR_PROJECT_READER,
                    "Get details of a specified export location of a share snapshot.",
                    [("GET", "/snapshots/{snapshot_id}/export-locations/{export_location_id}")]),
]


def list_rules():
    return rules
