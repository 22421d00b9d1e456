"""sharebackup:share_backup:* (our extension API's view of share backups, /sharebackup/v1)."""
from sharebackup.policies import base

GET = "sharebackup:share_backup:get"

rules = [
    base.documented(GET, base.ADMIN_OR_PROJECT_READER, "Show a share backup with the policy and run that made it.",
                    [("GET", "/sharebackup/v1/share-backups/{backup_id}")]),
]


def list_rules():
    return rules
