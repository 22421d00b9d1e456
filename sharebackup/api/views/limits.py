"""GET /v2/limits: Manila's {"limits": {"rate": [], "absolute": {...}}}, names gated by microversion."""
from __future__ import annotations

_NAMES = [
    # (first version, resource, limit name, in-use name)
    (None, "gigabytes", "maxTotalShareGigabytes", "totalShareGigabytesUsed"),
    (None, "snapshot_gigabytes", "maxTotalSnapshotGigabytes", "totalSnapshotGigabytesUsed"),
    (None, "shares", "maxTotalShares", "totalSharesUsed"),
    (None, "snapshots", "maxTotalShareSnapshots", "totalShareSnapshotsUsed"),
    (None, "share_networks", "maxTotalShareNetworks", "totalShareNetworksUsed"),
    ("2.40", "share_groups", "maxTotalShareGroups", "totalShareGroupsUsed"),
    ("2.40", "share_group_snapshots", "maxTotalShareGroupSnapshots", "totalShareGroupSnapshotsUsed"),
    ("2.53", "share_replicas", "maxTotalShareReplicas", "totalShareReplicasUsed"),
    ("2.53", "replica_gigabytes", "maxTotalReplicaGigabytes", "totalReplicaGigabytesUsed"),
    ("2.80", "backups", "maxTotalShareBackups", "totalShareBackupsUsed"),
    ("2.80", "backup_gigabytes", "maxTotalBackupGigabytes", "totalBackupGigabytesUsed"),
]


def show(req, absolute: dict[str, dict[str, int]]) -> dict:
    version = req.context.version
    result = {}
    for first, resource, limit_name, used_name in _NAMES:
        if first and not version.matches(first):
            continue
        if absolute["limit"].get(resource) is not None:
            result[limit_name] = absolute["limit"][resource]
        if absolute["in_use"].get(resource) is not None:
            result[used_name] = absolute["in_use"][resource]
    return {"limits": {"rate": [], "absolute": result}}
