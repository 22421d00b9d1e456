"""share_type:* and share_types_extra_spec:* (manila/policies/share_type.py and
manila/policies/share_types_extra_spec.py), with Manila's secure-RBAC defaults.

Share types are global objects: the target of every rule is the caller's own project, so
"reader" means any reader and the admin-only rules need the admin role.
"""
from sharebackup.policies import base

CREATE = "share_type:create"
UPDATE = "share_type:update"
SHOW = "share_type:show"
INDEX = "share_type:index"
DEFAULT = "share_type:default"
DELETE = "share_type:delete"
LIST_PROJECT_ACCESS = "share_type:list_project_access"
ADD_PROJECT_ACCESS = "share_type:add_project_access"
REMOVE_PROJECT_ACCESS = "share_type:remove_project_access"

SPEC_CREATE = "share_types_extra_spec:create"
SPEC_SHOW = "share_types_extra_spec:show"
SPEC_INDEX = "share_types_extra_spec:index"
SPEC_UPDATE = "share_types_extra_spec:update"
SPEC_DELETE = "share_types_extra_spec:delete"

rules = [
    base.documented(CREATE, base.ADMIN, "Create share type.", [("POST", "/types")]),
    base.documented(UPDATE, base.ADMIN, "Update share type.", [("PUT", "/types/{share_type_id}")]),
    base.documented(SHOW, base.ADMIN_OR_PROJECT_READER, "Get share type.",
                    [("GET", "/types/{share_type_id}")]),
    base.documented(INDEX, base.ADMIN_OR_PROJECT_READER, "List share types.",
                    [("GET", "/types"), ("GET", "/types?is_public=all")]),
    base.documented(DEFAULT, base.ADMIN_OR_PROJECT_READER, "Get default share type.",
                    [("GET", "/types/default")]),
    base.documented(DELETE, base.ADMIN, "Delete share type.", [("DELETE", "/types/{share_type_id}")]),
    base.documented(LIST_PROJECT_ACCESS, base.ADMIN, "List share type project access.",
                    [("GET", "/types/{share_type_id}/share_type_access")]),
    base.documented(ADD_PROJECT_ACCESS, base.ADMIN, "Add share type to project.",
                    [("POST", "/types/{share_type_id}/action")]),
    base.documented(REMOVE_PROJECT_ACCESS, base.ADMIN, "Remove share type from project.",
                    [("POST", "/types/{share_type_id}/action")]),
    base.documented(SPEC_CREATE, base.ADMIN, "Create share type extra spec.",
                    [("POST", "/types/{share_type_id}/extra_specs")]),
    base.documented(SPEC_SHOW, base.ADMIN, "Get share type extra specs of a given share type.",
                    [("GET", "/types/{share_type_id}/extra_specs")]),
    base.documented(SPEC_INDEX, base.ADMIN, "Get details of a share type extra spec.",
                    [("GET", "/types/{share_type_id}/extra_specs/{extra_spec_id}")]),
    base.documented(SPEC_UPDATE, base.ADMIN, "Update share type extra spec.",
                    [("PUT", "/types/{share_type_id}/extra_specs/{extra_spec_id}")]),
    base.documented(SPEC_DELETE, base.ADMIN, "Delete share type extra spec.",
                    [("DELETE", "/types/{share_type_id}/extra_specs/{key}")]),
]


def list_rules():
    return rules
