"""Share backups: the rules of Manila's share API (create, restore, delete, reset) and listing.

Each request-time state change is written in one transaction together with its job
(sharebackup/workflows/backup_jobs.py runs it and sets the final states). The quota is
reserved in the transaction that inserts the backup row, so any error after the
reservation rolls both back; usage is counted from live rows, so marking a backup
deleted frees its quota (charged to its owner, whoever deletes it).

Where we differ from Manila on purpose (see the module docs of the schema and views too):
- A share of another project is never usable for backup or restore, even a public one,
  unless the caller is admin (create: 400 "No share exists", restore: 404).
- Any protocol can be backed up: the engine copies files, it does not mount NFS, so
  Manila's generic-path NFS-only rule does not apply (CIFS shares are backed up too).
- ``host`` stays null until a worker takes the job (Manila's generic path); ``topic`` is
  ``manila-data`` from the start, and the create response shows both as stored.
- ``restore_progress`` restarts at "0" on every restore.
- ``backup_type`` is stored as given (null when absent, as on Manila's generic path) and must
  name a configured repository (``default``: the local one), else 400 before anything is
  written; the other ``backup_options`` keys are ignored (and logged).
- No backup_type consistency rule between backups of one share (Manila's driver path): every
  repository deduplicates on its own, and the job picks its parent within the same repository.
"""
from __future__ import annotations

from sqlalchemy import Float, String, and_, case, cast, func, literal, not_, or_, select
from sqlalchemy.orm import Session

from sharebackup.services.ids import bad_id
from sharebackup.core.context import RequestContext
from sharebackup.core.runtime import Runtime
from sharebackup.core.errors import Conflict, Forbidden, Invalid, NotFound
from sharebackup.db.models import Share, ShareBackup, utcnow
from sharebackup.queue import kinds
from sharebackup.services import repository_names
from sharebackup.queue.lease_queue import enqueue
from sharebackup.policies import share_backups as policy
from sharebackup.services import quotas, snapshots
from sharebackup.services.share_backup_requests import NUMERIC_SORT, CreateRequest, ListQuery

TOPIC = "manila-data"
DELETABLE = ("available", "error")
# Manila's BUSY_TASK_STATES (common/constants.py): a share migrating or copying data.
BUSY_TASK_STATES = ("migration_starting", "migration_in_progress", "migration_completing",
                    "migration_driver_starting", "migration_driver_in_progress",
                    "migration_driver_phase1_done", "data_copying_starting", "data_copying_in_progress",
                    "data_copying_completing", "data_copying_completed")



def _find(session: Session, ctx: RequestContext, backup_id: str, lock: bool = False) -> ShareBackup:
    """The live backup: project-scoped for non-admins (Manila's project_only lookup), else 404."""
    backup = None
    if not bad_id(backup_id):
        query = select(ShareBackup).where(ShareBackup.id == backup_id, ShareBackup.deleted.is_(False))
        if not ctx.is_admin:
            query = query.where(ShareBackup.project_id == ctx.project_id)
        if lock:
            query = query.with_for_update(of=ShareBackup)
        backup = session.scalars(query).first()
    if backup is None:
        raise NotFound(f"No backup exists with ID {backup_id}.")
    return backup


def _own_share(session: Session, ctx: RequestContext, share_id: str, lock: bool = True) -> Share | None:
    """The live share if it is the caller's (or the caller is admin); public shares of other
    projects do not count (Manila lets anyone back up or overwrite them)."""
    if bad_id(share_id):
        return None
    query = select(Share).where(Share.id == share_id, Share.deleted.is_(False))
    if lock:
        query = query.with_for_update(of=Share)
    share = session.scalars(query).first()
    if share is None or not (ctx.is_admin or share.project_id == ctx.project_id):
        return None
    return share


# -- create -----------------------------------------------------------------------------------

def _check_backup_type(rt: Runtime, backup_type: str | None) -> None:
    """backup_type names a configured repository (``default``: the local one); else 400."""
    if backup_type is None:
        return
    known = repository_names.repositories(rt.config)
    if backup_type not in known:
        raise Invalid(f"Invalid backup_type '{backup_type}': no backup repository of that name is "
                         f"configured. Available: {sorted(known)}.")


def create(rt: Runtime, ctx: RequestContext, req: CreateRequest) -> ShareBackup:
    _check_backup_type(rt, req.backup_type)
    with rt.db.transaction() as session:
        backup = create_in(session, rt, ctx, req)
    rt.notify_workers()
    return backup


def create_in(session: Session, rt: Runtime, ctx: RequestContext, req: CreateRequest) -> ShareBackup:
    """The create in the caller's transaction (a policy run records itself in the same one);
    the caller checked backup_type and wakes the workers after the commit."""
    share = _own_share(session, ctx, req.share_id)
    if share is None:
        raise Invalid(f"No share exists with ID {req.share_id}.")
    if share.is_soft_deleted:
        raise Forbidden(f"Backup can not be created for share '{share.id}' since it has been soft deleted.")
    if share.task_state in BUSY_TASK_STATES:
        raise Conflict(f"Share is busy with an active task: Share {share.id} is busy as part of an "
                       f"active task: {share.task_state}.")
    if share.status != "available":
        raise Invalid(f"Share {share.id} is in '{share.status}' state, but it must be in 'available' "
                      "state to create a backup.")
    if snapshots.count_for_share(session, share.id):
        raise Invalid(f"Cannot backup share {share.id} while it has snapshots.")
    # Replicas: the local driver has none, so Manila's replica check never fires here.
    quotas.reserve(session, rt, ctx.project_id, ctx.user_id, {"backups": 1, "backup_gigabytes": share.size})
    backup = ShareBackup(user_id=ctx.user_id, project_id=ctx.project_id, share_id=share.id,
                         size=share.size, host=None, topic=TOPIC, display_name=req.name,
                         display_description=req.description, progress="0", restore_progress="0",
                         status="creating", backup_type=req.backup_type,
                         availability_zone=share.availability_zone)
    session.add(backup)
    session.flush()
    share.status = "backup_creating"
    share.updated_at = utcnow()
    enqueue(session, kinds.BACKUP_CREATE, backup.id,
            {"share_id": share.id, "backup_options": dict(req.backup_options)},
            max_attempts=rt.config.backup.job_max_attempts, availability_zone=share.availability_zone)
    return backup


# -- read --------------------------------------------------------------------------------------

def get(rt: Runtime, ctx: RequestContext, backup_id: str) -> ShareBackup:
    with rt.db.reader() as session:
        return _find(session, ctx, backup_id)


def _like(value: str) -> str:
    """A substring pattern in which % and _ are literal (Manila lets them act as wildcards)."""
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _numeric(column, is_sqlite: bool):
    """The progress text as a number, NULL when it is not one: digits with at most one point,
    blanks and a trailing "%" allowed ("57", " 57 %", "57.5"). The same rows are numbers on
    SQLite (GLOB) and PostgreSQL (regular expressions)."""
    text = func.trim(func.rtrim(func.trim(column), "%"))
    if is_sqlite:
        numeric = and_(text.op("GLOB")("*[0-9]*"), not_(text.op("GLOB")("*[^0-9.]*")),
                       not_(text.op("GLOB")("*.*.*")))
        return case((numeric, cast(text, Float)), else_=None)
    numeric = and_(text.op("~")("^[0-9]*[.]?[0-9]*$"), text.op("~")("[0-9]"))
    return case((numeric, cast(text, Float)), else_=None)


def _sort_expression(attr: str, is_sqlite: bool):
    """What the list is sorted by: numeric for the progress fields; text in code-point order on
    both databases (SQLite's BINARY, PostgreSQL's "C" collation instead of the locale's)."""
    column = getattr(ShareBackup, attr)
    if attr in NUMERIC_SORT:
        return _numeric(column, is_sqlite)
    if isinstance(column.type, String) and not is_sqlite:
        return column.collate("C")
    return column


def _after(value, marker_value, row_id, marker_id, descending: bool):
    """Rows after the marker in the order (NULLs first, value, id) ascending, or its exact reverse."""
    if marker_value is not None:
        marker_value = literal(marker_value, value.type)
    if not descending:
        if marker_value is None:
            return or_(value.is_not(None), and_(value.is_(None), row_id > marker_id))
        return and_(value.is_not(None), or_(value > marker_value, and_(value == marker_value, row_id > marker_id)))
    if marker_value is None:
        return and_(value.is_(None), row_id < marker_id)
    return or_(value.is_(None), value < marker_value, and_(value == marker_value, row_id < marker_id))


def list_backups(rt: Runtime, ctx: RequestContext, query: ListQuery) -> tuple[list[ShareBackup], bool]:
    """(page, whether more rows follow the page). Filtered, sorted and paged in SQL, so the cost
    grows with the page: sorted by the sort key (numeric for the progress fields), then by id;
    NULLs first in ascending order and last in descending order (as MySQL does), the same on
    SQLite and PostgreSQL; then the rows after the marker, then offset and limit."""
    conditions = [ShareBackup.deleted.is_(False)]
    all_projects = query.all_tenants and rt.policy.check(ctx, policy.GET_ALL_PROJECT)
    if not all_projects:
        conditions.append(ShareBackup.project_id == ctx.project_id)
    is_sqlite = rt.db.is_sqlite
    value = _sort_expression(query.sort_key, is_sqlite)
    row_id = ShareBackup.id if is_sqlite else ShareBackup.id.collate("C")
    descending = query.sort_dir == "desc"
    nullable = query.sort_key in NUMERIC_SORT or getattr(ShareBackup, query.sort_key).nullable
    with rt.db.reader() as session:
        for key, wanted in query.filters.items():
            if key == "share_id" and wanted:
                if _own_share(session, ctx, wanted, lock=False) is None:
                    raise Invalid(f"No share exists with ID {wanted}.")
            if key.endswith("~"):
                conditions.append(getattr(ShareBackup, key[:-1]).ilike(_like(wanted), escape="\\"))
            else:
                conditions.append(getattr(ShareBackup, key) == wanted)
        if query.marker:
            found = None
            if not bad_id(query.marker):
                found = session.execute(select(value).where(*conditions, ShareBackup.id == query.marker)).first()
            if found is None:
                raise Invalid(f"marker [{query.marker}] not found")
            conditions.append(_after(value, found[0], row_id, query.marker, descending))
            if found[0] is not None and not (descending and nullable):
                # The same rows, plus a bound an index can start from (the OR above is only a
                # filter), so page n costs one page, not n pages. Descending, NULLs follow the
                # marker: only a NOT NULL column gets the bound.
                bound = literal(found[0], value.type)
                conditions.append(value <= bound if descending else value >= bound)
        if query.limit <= 0:
            return [], False
        order = [value, row_id]
        if nullable:  # NOT NULL columns keep an index usable
            order.insert(0, case((value.is_(None), 0), else_=1))
        stmt = (select(ShareBackup).where(*conditions)
                .order_by(*(term.desc() if descending else term.asc() for term in order))
                .offset(query.offset).limit(query.limit + 1))
        rows = list(session.scalars(stmt))
    return rows[:query.limit], len(rows) > query.limit


# -- update / delete / reset ----------------------------------------------------------------------

def update(rt: Runtime, ctx: RequestContext, backup_id: str, values: dict) -> ShareBackup:
    with rt.db.transaction() as session:
        backup = _find(session, ctx, backup_id, lock=True)
        for key, value in values.items():
            setattr(backup, key, value)
        backup.updated_at = utcnow()
    return backup


def delete(rt: Runtime, ctx: RequestContext, backup_id: str) -> None:
    with rt.db.transaction() as session:
        delete_in(session, rt, ctx, backup_id)
    rt.notify_workers()


def delete_in(session: Session, rt: Runtime, ctx: RequestContext, backup_id: str,
              deletable: tuple[str, ...] = DELETABLE) -> ShareBackup:
    """The delete in the caller's transaction (retention records what it pruned in the same one)."""
    backup = _find(session, ctx, backup_id, lock=True)
    if backup.status not in deletable:
        raise Invalid(f"Invalid backup: Backup {backup.id} status must be {' or '.join(deletable)}.")
    backup.status = "deleting"
    backup.updated_at = utcnow()
    enqueue(session, kinds.BACKUP_DELETE, backup.id, {}, max_attempts=rt.config.backup.job_max_attempts,
            availability_zone=backup.availability_zone)
    return backup


def reset_status(rt: Runtime, ctx: RequestContext, backup_id: str, status: str) -> None:
    """Only the status column, as Manila (no share change, no job)."""
    with rt.db.transaction() as session:
        backup = _find(session, ctx, backup_id, lock=True)
        rt.policy.authorize(ctx, policy.RESET_STATUS, {"project_id": backup.project_id,
                                                       "user_id": backup.user_id})
        backup.status = status
        backup.updated_at = utcnow()


# -- restore ---------------------------------------------------------------------------------------

def restore(rt: Runtime, ctx: RequestContext, backup_id: str, target_share_id: str | None,
            selection: dict | None = None) -> tuple[str, str]:
    """Into the backup's own share, or (2.91) into another share of the caller's project.
    ``selection`` (/sharebackup/v1's partial restore): paths, target_path and mode, for the job.
    Returns (backup id, share id)."""
    with rt.db.transaction() as session:
        backup = _find(session, ctx, backup_id, lock=True)
        if backup.status != "available":
            raise Invalid(f"Invalid backup: Backup {backup.id} status must be available.")
        share_id = target_share_id or backup.share_id
        share = _own_share(session, ctx, share_id)
        if share is None:
            raise NotFound(f"ShareNotFound: Share {share_id} could not be found.")
        if share.status != "available" or share.is_soft_deleted:
            raise Invalid("Invalid share: Share to be restored to must be available.")
        if backup.size > share.size:
            raise Invalid(f"Invalid share: Share size {share.size} is too small to restore backup of "
                             f"size {backup.size}.")
        backup.status = "restoring"
        backup.restore_progress = "0"
        backup.updated_at = utcnow()
        share.status = "backup_restoring"
        share.source_backup_id = backup.id
        share.updated_at = utcnow()
        enqueue(session, kinds.BACKUP_RESTORE, backup.id, {"share_id": share.id, **(selection or {})},
                max_attempts=rt.config.backup.job_max_attempts, availability_zone=share.availability_zone)
        result = (backup.id, share.id)
    rt.notify_workers()
    return result
