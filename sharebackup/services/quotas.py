"""Quotas: limits, usage, the reservation check that cannot overshoot, and the quota API's rules.

Usage is not a counter: it is counted from the resource rows themselves, inside the same
transaction that inserts (or grows) them, after taking the project's quota lock row
(``SELECT ... FOR UPDATE``; on SQLite the write transaction is already exclusive).
Two concurrent creates therefore see each other's rows, and usage always equals what
the rows say. A delete frees quota simply by marking its row deleted. Nothing is ever
"reserved" between transactions, so the API's ``reserved`` is always 0.

Effective limit of a resource, most specific first (as Manila's DbQuotaDriver):
user row (``?user_id=``) -> project row -> quota class ``default`` row -> configured default.
"""
from __future__ import annotations

from dataclasses import fields

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sharebackup.core.context import RequestContext
from sharebackup.core.runtime import Runtime
from sharebackup.core.errors import Forbidden, Invalid, OverQuota, SizeLimitExceeded
from sharebackup.db.models import Quota, QuotaClass, QuotaLock, Share, ShareBackup, ShareSnapshot

# The resources this service enforces (usage counted from rows, limits from [quota]).
RESOURCES = ("shares", "gigabytes", "snapshots", "snapshot_gigabytes", "backups", "backup_gigabytes")

# Every key Manila's quota API knows. The ones without rows here (share networks, groups,
# replicas, ...) are shown with Manila's default limits and 0 in use, and can be set, so
# clients that read or write them keep working; nothing consumes them.
FIXED_DEFAULTS = {
    "share_networks": 10,
    "share_groups": 50,
    "share_group_snapshots": 50,
    "share_replicas": 100,
    "replica_gigabytes": 1000,
    "per_share_gigabytes": -1,
    "encryption_keys": 100,
}
ALL_RESOURCES = RESOURCES + tuple(FIXED_DEFAULTS)
DEFAULT_CLASS = "default"

# resource -> (model, aggregate): what rows count towards it.
_USAGE = {
    "shares": (Share, None),
    "gigabytes": (Share, "size"),
    "snapshots": (ShareSnapshot, None),
    "snapshot_gigabytes": (ShareSnapshot, "size"),
    "backups": (ShareBackup, None),
    "backup_gigabytes": (ShareBackup, "size"),
}


# -- primitives ---------------------------------------------------------------------------------

def _insert(session: Session, table):
    dialect = session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def lock_project(session: Session, project_id: str) -> None:
    """Serialise every quota-consuming transaction of one project.

    PostgreSQL: the insert of a missing lock row waits for a concurrent inserter to finish
    (unique index), and FOR UPDATE then queues every later transaction behind the holder;
    READ COMMITTED gives each later statement a snapshot that includes the holder's rows.
    SQLite: the transaction began with BEGIN IMMEDIATE and is the only writer anyway.
    """
    session.execute(_insert(session, QuotaLock.__table__).values(project_id=project_id)
                    .on_conflict_do_nothing())
    session.execute(select(QuotaLock).where(QuotaLock.project_id == project_id).with_for_update())


def configured_defaults(rt: Runtime) -> dict[str, int]:
    """Limits from the configuration ([quota]) and Manila's defaults for the other keys."""
    result = {f.name: getattr(rt.config.quota, f.name) for f in fields(rt.config.quota)}
    for name, value in FIXED_DEFAULTS.items():
        result.setdefault(name, value)
    return result


def class_limits(session: Session, class_name: str) -> dict[str, int]:
    rows = session.scalars(select(QuotaClass).where(QuotaClass.class_name == class_name)).all()
    return {row.resource: row.hard_limit for row in rows}


def default_limits(rt: Runtime, session: Session | None = None) -> dict[str, int]:
    """The defaults every project starts from: configuration, then quota class ``default``."""
    result = configured_defaults(rt)
    if session is not None:
        result.update(class_limits(session, DEFAULT_CLASS))
    return result


def _rows(session: Session, project_id: str, user_id: str) -> dict[str, int]:
    rows = session.scalars(select(Quota).where(Quota.project_id == project_id,
                                               Quota.user_id == user_id)).all()
    return {row.resource: row.hard_limit for row in rows}


def limits(session: Session, rt: Runtime, project_id: str, user_id: str = "") -> dict[str, int]:
    """Effective limits: user overrides on project overrides on the defaults."""
    result = default_limits(rt, session)
    result.update(_rows(session, project_id, ""))
    if user_id:
        result.update(_rows(session, project_id, user_id))
    return result


def usage(session: Session, project_id: str, user_id: str = "") -> dict[str, int]:
    """In-use amounts counted from the rows (not deleted) of the project (or one user)."""
    result = {name: 0 for name in ALL_RESOURCES}
    for resource, (model, column) in _USAGE.items():
        aggregate = func.count() if column is None else func.coalesce(func.sum(getattr(model, column)), 0)
        query = select(aggregate).select_from(model).where(model.project_id == project_id,
                                                           model.deleted.is_(False))
        if user_id:
            query = query.where(model.user_id == user_id)
        result[resource] = int(session.scalar(query) or 0)
    return result


# Manila's texts (manila/exception.py, raised by manila/share/api.py), prefixed by the class
# name as its FaultWrapper does for "safe" exceptions. Only the backup size message carries numbers.
_MESSAGES = {
    "shares": lambda q, u, r: (f"ShareLimitExceeded: Maximum number of shares allowed ({q}) either per "
                               "project/user or share type quota is exceeded."),
    "gigabytes": lambda q, u, r: ("ShareSizeExceedsAvailableQuota: Requested share exceeds allowed project/user "
                                  "or share type gigabytes quota."),
    "snapshots": lambda q, u, r: (f"SnapshotLimitExceeded: Maximum number of snapshots allowed ({q}) either per "
                                  "project/user or share type quota is exceeded."),
    "snapshot_gigabytes": lambda q, u, r: ("SnapshotSizeExceedsAvailableQuota: Requested snapshot exceeds allowed "
                                           "project/user or share type gigabytes quota."),
    "backups": lambda q, u, r: f"BackupLimitExceeded: Maximum number of backups allowed ({q}) exceeded.",
    "backup_gigabytes": lambda q, u, r: ("ShareBackupSizeExceedsAvailableQuota: Requested backup exceeds allowed "
                                         f"Backup gigabytes quota. Requested {r}G, quota is {q}G and {u}G has "
                                         "been consumed."),
}


def _over_quota_message(resource: str, quota: int, used: int, requested: int) -> str:
    if resource in _MESSAGES:
        return _MESSAGES[resource](quota, used, requested)
    return f"OverQuota: Quota exceeded for resources: ['{resource}']."


def reserve(session: Session, rt: Runtime, project_id: str, user_id: str, deltas: dict[str, int]) -> None:
    """Lock the project and check that ``deltas`` fit; raise Manila's 413 otherwise.

    Call it in the transaction that then writes the rows (and commit both together). Like
    Manila, the exceeded resources are sorted by name and the first one is reported. The
    project limit is always checked; a user's limit too when the user has one of its own.
    """
    lock_project(session, project_id)
    exceeded = []
    for scope_user in ("", user_id):
        if scope_user == "" or _has_user_quota(session, project_id, scope_user):
            limit = limits(session, rt, project_id, scope_user)
            used = usage(session, project_id, scope_user)
            for resource, delta in deltas.items():
                hard = limit.get(resource, -1)
                if delta > 0 and hard >= 0 and used.get(resource, 0) + delta > hard:
                    exceeded.append((resource, hard, used.get(resource, 0), delta))
    if exceeded:
        resource, quota, used, requested = sorted(exceeded)[0]
        message = _over_quota_message(resource, quota, used, requested)
        raise OverQuota(message, resource, quota, used, requested, reason=message.split(": ", 1)[-1])


def check_per_share_size(session: Session, rt: Runtime, project_id: str, user_id: str, size: int) -> None:
    """Manila's per_share_gigabytes check (share create and extend): 413 when one share would be
    larger than the project's (or the user's) per_share_gigabytes limit; -1 means no limit."""
    for scope_user in ("", user_id):
        if scope_user and not _has_user_quota(session, project_id, scope_user):
            continue
        limit = limits(session, rt, project_id, scope_user)["per_share_gigabytes"]
        if limit >= 0 and size > limit:
            raise SizeLimitExceeded(f"ShareSizeExceedsLimit: Requested share size {size} is larger than "
                                    f"maximum allowed limit {limit}.")


def _has_user_quota(session: Session, project_id: str, user_id: str) -> bool:
    return session.scalar(select(func.count()).select_from(Quota).where(
        Quota.project_id == project_id, Quota.user_id == user_id)) > 0


# -- the quota-set API's rules --------------------------------------------------------------------

def authorize_project(ctx: RequestContext, project_id: str) -> None:
    """Manila's authorize_project_context: a non-admin sees only its own project."""
    if not ctx.is_admin and ctx.project_id != project_id:
        raise Forbidden("Access was denied to this resource.")


def _detail(limit: dict[str, int], used: dict[str, int]) -> dict[str, dict]:
    return {name: {"in_use": used.get(name, 0), "limit": limit[name], "reserved": 0} for name in limit}


def show(rt: Runtime, ctx: RequestContext, project_id: str, user_id: str = "", detail: bool = False) -> dict:
    """{resource: limit}, or {resource: {in_use, limit, reserved}} with ``detail``."""
    authorize_project(ctx, project_id)
    with rt.db.reader() as session:
        limit = limits(session, rt, project_id, user_id)
        if not detail:
            return limit
        return _detail(limit, usage(session, project_id, user_id))


def defaults(rt: Runtime, ctx: RequestContext) -> dict[str, int]:
    with rt.db.reader() as session:
        return default_limits(rt, session)


def _settable(session: Session, rt: Runtime, project_id: str, user_id: str) -> dict[str, tuple[int, int]]:
    """resource -> (minimum, maximum) a new limit may take without ``force`` (Manila's settable quotas).

    Project: at least what is in use and what its users' own limits add up to; no maximum.
    User: at least what the user has in use; at most what the project limit leaves after the
    other users' own limits.
    """
    project_limit = limits(session, rt, project_id)
    result = {}
    if user_id:
        used = usage(session, project_id, user_id)
        others = session.execute(
            select(Quota.resource, func.sum(Quota.hard_limit)).where(
                Quota.project_id == project_id, Quota.user_id != "", Quota.user_id != user_id)
            .group_by(Quota.resource)).all()
        allocated = {resource: int(total) for resource, total in others}
        for name in ALL_RESOURCES:
            maximum = project_limit[name]
            if maximum != -1:
                maximum -= allocated.get(name, 0)
            result[name] = (used[name], maximum)
    else:
        used = usage(session, project_id)
        users = session.execute(
            select(Quota.resource, func.sum(Quota.hard_limit), func.min(Quota.hard_limit)).where(
                Quota.project_id == project_id, Quota.user_id != "").group_by(Quota.resource)).all()
        allocated = {resource: (-1 if low == -1 else int(total)) for resource, total, low in users}
        for name in ALL_RESOURCES:
            result[name] = (max(allocated.get(name, 0), used[name]), -1)
    return result


def _check_new_limit(key: str, value: int, current: int, in_use: int, minimum: int, maximum: int,
                     force: bool) -> None:
    if not force and value >= 0 and current >= 0 and in_use > value:
        raise Invalid(f"Quota value {value} for {key} is smaller than already used and reserved "
                         f"{in_use}.")
    if value < -1:
        raise Invalid("Quota limit must be -1 or greater.")
    if value < minimum and not force and (maximum != -1 or value != -1):
        raise Invalid(f"Quota limit must be greater than {minimum}.")
    if maximum != -1 and value > maximum and not force:
        raise Invalid(f"Quota limit must be less than {maximum}.")


def _upsert(session: Session, model, keys: dict, value: int) -> None:
    table = model.__table__
    statement = _insert(session, table).values(**keys, hard_limit=value)
    statement = statement.on_conflict_do_update(index_elements=list(keys), set_={"hard_limit": value})
    session.execute(statement)


def update(rt: Runtime, ctx: RequestContext, project_id: str, user_id: str, values: dict[str, int],
           force: bool) -> dict[str, int]:
    """Set limits (all or none), checked against usage under the project's quota lock."""
    authorize_project(ctx, project_id)
    with rt.db.transaction() as session:
        lock_project(session, project_id)
        current = limits(session, rt, project_id, user_id)
        used = usage(session, project_id, user_id)
        settable = _settable(session, rt, project_id, user_id)
        for key, value in values.items():
            minimum, maximum = settable[key]
            _check_new_limit(key, value, current[key], used[key], minimum, maximum, force)
        for key, value in values.items():
            _upsert(session, Quota, {"project_id": project_id, "user_id": user_id, "resource": key}, value)
        session.flush()
        return limits(session, rt, project_id, user_id)


def delete_quotas(rt: Runtime, ctx: RequestContext, project_id: str, user_id: str = "") -> None:
    """Back to the defaults: the user's own limits, or the project's and all its users'."""
    authorize_project(ctx, project_id)
    with rt.db.transaction() as session:
        lock_project(session, project_id)
        statement = delete(Quota).where(Quota.project_id == project_id)
        if user_id:
            statement = statement.where(Quota.user_id == user_id)
        session.execute(statement)


# -- quota classes --------------------------------------------------------------------------------

def show_class(rt: Runtime, ctx: RequestContext, class_name: str) -> dict[str, int]:
    """A class's limits; what it does not set is the configured default."""
    with rt.db.reader() as session:
        result = configured_defaults(rt)
        result.update(class_limits(session, class_name))
        return result


def update_class(rt: Runtime, ctx: RequestContext, class_name: str, values: dict[str, int]) -> dict[str, int]:
    with rt.db.transaction() as session:
        for key, value in values.items():
            _upsert(session, QuotaClass, {"class_name": class_name, "resource": key}, value)
        session.flush()
        result = configured_defaults(rt)
        result.update(class_limits(session, class_name))
        return result


# -- limits ---------------------------------------------------------------------------------------

def absolute_limits(rt: Runtime, ctx: RequestContext) -> dict[str, dict[str, int]]:
    """The caller's project: {"limit": {...}, "in_use": {...}} (Manila's /limits input)."""
    with rt.db.reader() as session:
        return {"limit": limits(session, rt, ctx.project_id),
                "in_use": usage(session, ctx.project_id)}
