"""The body of the admin ``reset_status`` action, shared by shares, snapshots and backups
(Manila's AdminActionsMixin: the status is lower-cased, then checked against the resource's set)."""
from __future__ import annotations

from sharebackup.faults import Fault


def reset_status_value(value, allowed) -> str:
    if not isinstance(value, dict) or "status" not in value:
        raise Fault(400, "Must specify 'status'")
    status = value["status"]
    if not isinstance(status, str) or status.lower() not in allowed:
        raise Fault(400, "Invalid state. Valid states: " + ", ".join(allowed) + ".")
    return status.lower()
