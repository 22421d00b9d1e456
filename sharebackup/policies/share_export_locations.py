"""share_export_location:* (manila/policies/share_export_location.py), secure-RBAC defaults."""
from sharebackup.policies import base

INDEX = "share_export_location:index"
SHOW = "share_export_location:show"

rules = [
    base.documented(INDEX, base.ADMIN_OR_PROJECT_READER, "Get all export locations of a given share.",
                    [("GET", "/shares/{share_id}/export_locations")]),
    base.documented(SHOW, base.ADMIN_OR_PROJECT_READER, "Get details about the requested export location.",
                    [("GET", "/shares/{share_id}/export_locations/{export_location_id}")]),
]


def list_rules():
    return rules
