"""availability_zone:* (manila/policies/availability_zone.py)."""
from sharebackup.policies import base

INDEX = "availability_zone:index"

rules = [
    base.documented(INDEX, base.ADMIN_OR_PROJECT_READER, "Get all storage availability zones.",
                    [("GET", "/availability-zones"), ("GET", "/os-availability-zone")]),
]


def list_rules():
    return rules
