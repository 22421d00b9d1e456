"""Quota checks that cannot overshoot.

Usage is not a counter: it is counted from the resource rows themselves, inside the same
transaction that inserts (or grows) them, after taking the project's quota lock row
(``SELECT ... FOR UPDATE``; on SQLite the write transaction is already exclusive).
Two concurrent creates therefore see each other's rows, and usage always equals what
the rows say. A delete frees quota simply by marking its row deleted.
"""
from __future__ import annotations

from dataclasses import fields

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sharebackup.api.faults import over_limit
from sharebackup.db.models import Quota, QuotaLock, Share, ShareBackup, ShareSnapshot

RESOURCES = ("shares", "gigabytes", "snapshots", "snapshot_gigabytes", "backups", "backup_gigabytes")

# resource -> (model, aggregate): what rows count towards it.
_USAGE = {
    "shares": (Share, None),
    "gigabytes": (Share, "size"),
    "snapshots": (ShareSnapshot, None),
    "snapshot_gigabytes": (ShareSnapshot, "size"),
    "backups": (ShareBackup, None),
    "backup_gigabytes": (ShareBackup, "size"),
}


def lock_project(session: Session, project_id: str) -> None:
    """Serialise every quota-consuming transaction of one project."""
    table = QuotaLock.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(postgresql.insert(table).values(project_id=project_id).on_conflict_do_nothing())
    else:
        session.execute(sqlite.insert(table).values(project_id=project_id).on_conflict_do_nothing())
    session.execute(select(QuotaLock).where(QuotaLock.project_id == project_id).with_for_update())


def default_limits(rt) -> dict[str, int]:
    return {f.name: getattr(rt.config.quota, f.name) for f in fields(rt.config.quota)}


def limits(session: Session, rt, project_id: str, user_id: str = "") -> dict[str, int]:
    """Effective limits: project (or user) overrides on top of the configured defaults."""
    result = default_limits(rt)
    rows = session.scalars(select(Quota).where(Quota.project_id == project_id, Quota.user_id == "")).all()
    result.update({row.resource: row.hard_limit for row in rows})
    if user_id:
        rows = session.scalars(select(Quota).where(Quota.project_id == project_id,
                                                   Quota.user_id == user_id)).all()
        result.update({row.resource: row.hard_limit for row in rows})
    return result


def usage(session: Session, project_id: str, user_id: str = "") -> dict[str, int]:
    """In-use amounts counted from the rows (not deleted) of the project (or one user)."""
    result = {}
    for resource, (model, column) in _USAGE.items():
        aggregate = func.count() if column is None else func.coalesce(func.sum(getattr(model, column)), 0)
        query = select(aggregate).select_from(model).where(model.project_id == project_id,
                                                           model.deleted.is_(False))
        if user_id:
            query = query.where(model.user_id == user_id)
        result[resource] = int(session.scalar(query) or 0)
    return result


_MESSAGES = {
    "shares": lambda q, u, r: f"ShareLimitExceeded: Maximum number of shares allowed ({q}) exceeded.",
    "gigabytes": lambda q, u, r: ("ShareSizeExceedsAvailableQuota: Requested share exceeds allowed project/user "
                                  f"or share type gigabytes quota. Requested {r}G, quota is {q}G and {u}G "
                                  "has been consumed."),
    "snapshots": lambda q, u, r: f"SnapshotLimitExceeded: Maximum number of snapshots allowed ({q}) exceeded.",
    "snapshot_gigabytes": lambda q, u, r: ("SnapshotSizeExceedsAvailableQuota: Requested snapshot exceeds allowed "
                                           f"project/user or share type gigabytes quota. Requested {r}G, quota is "
                                           f"{q}G and {u}G has been consumed."),
    "backups": lambda q, u, r: f"BackupLimitExceeded: Maximum number of backups allowed ({q}) exceeded.",
    "backup_gigabytes": lambda q, u, r: ("ShareBackupSizeExceedsAvailableQuota: Requested backup exceeds allowed "
                                         f"Backup gigabytes quota. Requested {r}G, quota is {q}G and {u}G has "
                                         "been consumed."),
}


def reserve(session: Session, rt, project_id: str, user_id: str, deltas: dict[str, int]) -> None:
    """Lock the project and check that ``deltas`` fit; raise Manila's 413 otherwise.

    Call it in the transaction that then writes the rows. Like Manila, the exceeded
    resources are sorted by name and the first one is reported.
    """
    lock_project(session, project_id)
    exceeded = []
    for scope_user in ("", user_id):
        if scope_user == "" or _has_user_quota(session, project_id, scope_user):
            limit = limits(session, rt, project_id, scope_user)
            used = usage(session, project_id, scope_user)
            for resource, delta in deltas.items():
                if delta > 0 and limit[resource] >= 0 and used[resource] + delta > limit[resource]:
                    exceeded.append((resource, limit[resource], used[resource], delta))
    if exceeded:
        resource, quota, used, requested = sorted(exceeded)[0]
        raise over_limit(_MESSAGES[resource](quota, used, requested))


def _has_user_quota(session: Session, project_id: str, user_id: str) -> bool:
    return session.scalar(select(func.count()).select_from(Quota).where(
        Quota.project_id == project_id, Quota.user_id == user_id)) > 0
