"""sharebackup:backup_policy:* (our extension API, /sharebackup/v1): reading needs the project's
reader role, changing its member role; admins may do both for any project, and only they may
list every project's policies (all_tenants=1)."""
from sharebackup.policies import base

_ROOT = "/sharebackup/v1/backup-policies"

CREATE = "sharebackup:backup_policy:create"
GET = "sharebackup:backup_policy:get"
GET_ALL = "sharebackup:backup_policy:get_all"
GET_ALL_PROJECT = "sharebackup:backup_policy:get_all_project"
UPDATE = "sharebackup:backup_policy:update"
DELETE = "sharebackup:backup_policy:delete"
ATTACH = "sharebackup:backup_policy:add_share"
DETACH = "sharebackup:backup_policy:remove_share"
RUNS = "sharebackup:backup_policy:get_runs"

rules = [
    base.documented(CREATE, base.ADMIN_OR_PROJECT_MEMBER, "Create a backup policy.", [("POST", _ROOT)]),
    base.documented(GET, base.ADMIN_OR_PROJECT_READER, "Show a backup policy.", [("GET", _ROOT + "/{policy_id}")]),
    base.documented(GET_ALL, base.ADMIN_OR_PROJECT_READER, "List backup policies.",
                    [("GET", _ROOT), ("GET", _ROOT + "/detail")]),
    base.documented(GET_ALL_PROJECT, base.ADMIN, "List the backup policies of all projects.",
                    [("GET", _ROOT + "?all_tenants=1")]),
    base.documented(UPDATE, base.ADMIN_OR_PROJECT_MEMBER, "Update a backup policy.",
                    [("PUT", _ROOT + "/{policy_id}")]),
    base.documented(DELETE, base.ADMIN_OR_PROJECT_MEMBER, "Delete a backup policy (its backups stay).",
                    [("DELETE", _ROOT + "/{policy_id}")]),
    base.documented(ATTACH, base.ADMIN_OR_PROJECT_MEMBER, "Attach a share to a backup policy.",
                    [("POST", _ROOT + "/{policy_id}/shares")]),
    base.documented(DETACH, base.ADMIN_OR_PROJECT_MEMBER, "Detach a share from a backup policy.",
                    [("DELETE", _ROOT + "/{policy_id}/shares/{share_id}")]),
    base.documented(RUNS, base.ADMIN_OR_PROJECT_READER, "List the runs of a backup policy.",
                    [("GET", _ROOT + "/{policy_id}/runs")]),
]


def list_rules():
    return rules
