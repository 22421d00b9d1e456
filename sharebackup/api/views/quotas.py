"""Quota sets and quota class sets as Manila shows them, keys gated by microversion."""
from __future__ import annotations

# (first version, keys) in the order Manila adds them to the view.
_BASE_KEYS = ("shares", "gigabytes", "snapshots", "snapshot_gigabytes")
_VERSIONED_KEYS = [
    ("2.40", ("share_groups", "share_group_snapshots")),
    ("2.53", ("share_replicas", "replica_gigabytes")),
    ("2.62", ("per_share_gigabytes",)),
    ("2.80", ("backups", "backup_gigabytes")),
    ("2.90", ("encryption_keys",)),
]


def visible_keys(version) -> list[str]:
    keys = list(_BASE_KEYS) + ["share_networks"]
    for first, names in _VERSIONED_KEYS:
        if version.matches(first):
            keys.extend(names)
    return keys


def _view(version, values: dict, ident: str | None) -> dict:
    view = {key: values.get(key) for key in visible_keys(version)}
    if ident is not None:
        view["id"] = ident
    return view


def quota_set(req, values: dict, project_id: str | None = None) -> dict:
    """``values`` maps resource -> limit, or -> {in_use, limit, reserved} for /detail.
    Manila's update answer carries no ``id``: pass project_id=None there."""
    return {"quota_set": _view(req.context.version, values, project_id)}


def quota_class_set(req, values: dict, class_name: str | None = None) -> dict:
    """As quota_set; Manila's update answer has no ``id`` either."""
    return {"quota_class_set": _view(req.context.version, values, class_name)}
