"""sharebackup:share_backup:* (our extension API's share backups, /sharebackup/v1): seeing a
backup's files and downloading them need the project's reader role (the same as seeing the
backup), a partial restore its member role (the same as Manila's restore)."""
from sharebackup.policies import base

_ROOT = "/sharebackup/v1/share-backups/{backup_id}"

GET = "sharebackup:share_backup:get"
BROWSE = "sharebackup:share_backup:browse"
DOWNLOAD = "sharebackup:share_backup:download"
RESTORE_PARTIAL = "sharebackup:share_backup:restore_partial"

rules = [
    base.documented(GET, base.ADMIN_OR_PROJECT_READER, "Show a share backup with the policy and run that made it.",
                    [("GET", _ROOT)]),
    base.documented(BROWSE, base.ADMIN_OR_PROJECT_READER, "List the files of a share backup, or one file's entry.",
                    [("GET", _ROOT + "/files?path={path}"), ("GET", _ROOT + "/files/stat?path={path}")]),
    base.documented(DOWNLOAD, base.ADMIN_OR_PROJECT_READER, "Download a file or an archive of a share backup.",
                    [("GET", _ROOT + "/content?path={path}"), ("GET", _ROOT + "/archive?path={path}")]),
    base.documented(RESTORE_PARTIAL, base.ADMIN_OR_PROJECT_MEMBER,
                    "Restore chosen paths of a share backup, into a share and a directory of it, merged or replaced.",
                    [("POST", _ROOT + "/restore")]),
]


def list_rules():
    return rules
