"""Quota sets and quota class sets (manila/policies/quota_set.py, quota_class_set.py), secure-RBAC defaults.

Showing a project's quotas needs the project reader role (or admin), and the handlers then
refuse another project's quotas to non-admins as Manila's authorize_project_context does.
Changing or deleting quotas is admin only. Quota classes: shown to admins (Manila refuses
them to any non-admin context without a quota class, i.e. every keystone user), set by admins.
"""
from sharebackup.policies import base

QUOTA_SET = "quota_set:%s"
QUOTA_CLASS_SET = "quota_class_set:%s"

UPDATE = QUOTA_SET % "update"
SHOW = QUOTA_SET % "show"
DELETE = QUOTA_SET % "delete"
CLASS_UPDATE = QUOTA_CLASS_SET % "update"
CLASS_SHOW = QUOTA_CLASS_SET % "show"


def _paths(method: str, suffix: str = "", queries: tuple[str, ...] = ("",)) -> list[tuple[str, str]]:
    return [(method, f"/{prefix}/{{project_id}}{suffix}{query}")
            for prefix in ("quota-sets", "os-quota-sets") for query in queries]


rules = [
    base.documented(UPDATE, base.ADMIN, "Update the quotas for a project or a user of it.",
                    _paths("PUT", queries=("", "?user_id={user_id}"))),
    base.documented(SHOW, base.ADMIN_OR_PROJECT_READER,
                    "Show the quotas (or defaults, or usage detail) of a project or a user of it, "
                    "and the caller's own absolute limits.",
                    _paths("GET", queries=("", "?user_id={user_id}")) + _paths("GET", "/defaults")
                    + [("GET", "/quota-sets/{project_id}/detail"),
                       ("GET", "/quota-sets/{project_id}/detail?user_id={user_id}"),
                       ("GET", "/limits")]),
    base.documented(DELETE, base.ADMIN,
                    "Delete the quotas of a project or a user of it: they revert to the defaults.",
                    _paths("DELETE", queries=("", "?user_id={user_id}"))),
    base.documented(CLASS_UPDATE, base.ADMIN, "Update a quota class.",
                    [("PUT", "/quota-class-sets/{class_name}"), ("PUT", "/os-quota-class-sets/{class_name}")]),
    base.documented(CLASS_SHOW, base.ADMIN_OR_PROJECT_READER, "Get a quota class.",
                    [("GET", "/quota-class-sets/{class_name}"), ("GET", "/os-quota-class-sets/{class_name}")]),
]


def list_rules():
    return rules
