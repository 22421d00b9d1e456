"""share_replica:* — only the list is served: this service has no replication."""
from sharebackup.policies import base

GET_ALL = "share_replica:get_all"

rules = [
    base.documented(GET_ALL, base.ADMIN_OR_PROJECT_READER, "Get share replicas.",
                    [("GET", "/share-replicas"), ("GET", "/share-replicas/detail")]),
]


def list_rules():
    return rules
