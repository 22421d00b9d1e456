"""Shares: the rules (Manila's manila/share/api.py and the v2 controllers' checks).

Every write happens in one transaction together with its job (lease queue); the local
driver's work runs in sharebackup/jobs/share_jobs.py. Visibility follows Manila: a share
is visible to its project, to admins, and (when public) to everyone; an invisible share
is a 404, and a visible share the caller may not change is a 403.
"""
from __future__ import annotations

import ast
import datetime as dt
import json
from pathlib import Path

from sqlalchemy import and_, func, or_, select

from sharebackup.faults import Fault
from sharebackup.db.models import (Share, ShareBackup, ShareExportLocation, ShareSnapshot, ShareType,
                                   ShareTypeProject, utcnow)
from sharebackup.jobs import kinds
from sharebackup.jobs.lease_queue import enqueue
from sharebackup.policies import shares as policy
from sharebackup.services import quotas
from sharebackup.shares import local

JOB_CREATE, JOB_DELETE, JOB_EXTEND = kinds.SHARE_CREATE, kinds.SHARE_DELETE, kinds.SHARE_EXTEND
JOB_SHRINK, JOB_MANAGE, JOB_PURGE, JOB_REVERT = (kinds.SHARE_SHRINK, kinds.SHARE_MANAGE, kinds.SHARE_PURGE,
                                                 kinds.SHARE_REVERT)

DELETABLE = ("available", "error", "inactive")
SHRINKABLE = ("available", "shrinking_possible_data_loss_error")
# Statuses in which a job (or another service) is working on the share.
TRANSITIONAL = {"creating", "creating_from_snapshot", "deleting", "extending", "shrinking",
                "manage_starting", "unmanage_starting", "migrating", "migrating_to", "replication_change",
                "reverting", "backup_creating", "backup_restoring", "ensuring", "server_migrating",
                "server_migrating_to", "deferred_deleting", "restoring", "awaiting_transfer"}
SOFT_DELETE_RETENTION = dt.timedelta(seconds=604800)  # Manila's soft_deleted_share_retention_time


def target(share: Share) -> dict:
    return {"project_id": share.project_id, "user_id": share.user_id}


def caller_is_admin(rt, ctx) -> bool:
    return rt.policy.check(ctx, "context_is_admin")


def _bad_id(value: str) -> bool:
    return not isinstance(value, str) or "\x00" in value or len(value) > 255


def load_share(session, share_id: str, lock: bool = False) -> Share | None:
    """The live share row; ``lock`` takes its row lock (PostgreSQL) for a read-modify-write."""
    if _bad_id(share_id):
        return None
    query = select(Share).where(Share.id == share_id, Share.deleted.is_(False))
    if lock:
        query = query.with_for_update(of=Share)
    return session.scalars(query).first()


def _visible(rt, ctx, session, share_id: str, lock: bool = True) -> Share:
    """The share if the caller may see it (Manila's share_api.get), else 404."""
    share = load_share(session, share_id, lock)
    if share is None:
        raise Fault(404)
    if not share.is_public and not rt.policy.check(ctx, policy.GET, target(share)):
        raise Fault(404)
    return share


def authorize(rt, ctx, rule: str, share: Share) -> None:
    rt.policy.authorize(ctx, rule, target(share))


# -- share types, snapshots --------------------------------------------------------------

def _spec_true(share_type: ShareType | None, key: str, default: bool = False) -> bool:
    return share_type.spec_is_true(key, default) if share_type is not None else default


def _share_type_visible(session, ctx, is_admin: bool, share_type: ShareType) -> bool:
    if share_type.is_public or is_admin:
        return True
    return session.scalar(select(func.count()).select_from(ShareTypeProject).where(
        ShareTypeProject.share_type_id == share_type.id,
        ShareTypeProject.project_id == ctx.project_id)) > 0


def find_share_type(session, ctx, is_admin: bool, ident: str) -> ShareType:
    query = select(ShareType).where(ShareType.deleted.is_(False))
    found = session.scalars(query.where(ShareType.id == ident)).first()
    if found is None:
        found = session.scalars(query.where(ShareType.name == ident)).first()
    if found is None or not _share_type_visible(session, ctx, is_admin, found):
        raise Fault(404, "Share type not found.")
    return found


def _int_spec(share_type: ShareType | None, key: str) -> int | None:
    if share_type is None:
        return None
    try:
        return int(str(share_type.specs.get(key, "")).strip())
    except ValueError:
        return None


def check_size_for_type(share_type: ShareType | None, size: int, operation: str = "create",
                        is_admin: bool = False) -> None:
    """Manila's provision_filter_on_size: the type's provisioning:* size limits."""
    if share_type is None:
        return
    name = share_type.name
    minimum = _int_spec(share_type, "provisioning:min_share_size")
    if minimum is not None and size < minimum:
        raise Fault(400, f"Invalid input received: Specified share size of '{size}' is less than the minimum "
                         f"required size of '{minimum}' for share type '{name}'.")
    maximum = _int_spec(share_type, "provisioning:max_share_size")
    if maximum is not None and size > maximum:
        raise Fault(400, f"Invalid input received: Specified share size of '{size}' is greater than the "
                         f"maximum allowable size of '{maximum}' for share type '{name}'.")
    extend_max = _int_spec(share_type, "provisioning:max_share_extend_size")
    if operation == "extend" and not is_admin and extend_max is not None and size > extend_max:
        raise Fault(400, f"Invalid input received: Specified share size of '{size}' is greater than the "
                         f"maximum allowable extend size of '{extend_max}' for share type '{name}'.")


def _default_share_type(rt, session) -> ShareType | None:
    return session.scalars(select(ShareType).where(ShareType.deleted.is_(False),
                                                   ShareType.name == rt.config.default_share_type)).first()


def _snapshot(rt, ctx, session, snapshot_id: str, is_admin: bool) -> ShareSnapshot:
    snap = None if _bad_id(snapshot_id) else session.scalars(select(ShareSnapshot).where(
        ShareSnapshot.id == snapshot_id, ShareSnapshot.deleted.is_(False))).first()
    if snap is None or not (is_admin or snap.project_id == ctx.project_id):
        raise Fault(404, f"Snapshot {snapshot_id} could not be found.")
    return snap


# -- create ----------------------------------------------------------------------------

def create(rt, ctx, req) -> Share:
    enabled = [p.upper() for p in rt.config.enabled_share_protocols]
    if req.share_proto not in enabled:
        raise Fault(400, f"Invalid share protocol provided: {req.share_proto}. It is either disabled or "
                         f"unsupported. Available protocols: {list(rt.config.enabled_share_protocols)}")
    zone = rt.config.storage_availability_zone
    if req.availability_zone and req.availability_zone != zone:
        raise Fault(404, f"Availability zone {req.availability_zone} could not be found.")
    if req.share_network_id:
        raise Fault(404, f"Share network {req.share_network_id} could not be found.")
    if req.share_group_id:
        raise Fault(404, f"Share group {req.share_group_id} could not be found.")
    if req.is_public:
        rt.policy.authorize(ctx, policy.CREATE_PUBLIC)
    is_admin = caller_is_admin(rt, ctx)
    with rt.db.transaction() as session:
        share_type = None
        if req.share_type:
            share_type = find_share_type(session, ctx, is_admin, req.share_type)
        snapshot = None
        size = req.size
        if req.snapshot_id:
            snapshot = _snapshot(rt, ctx, session, req.snapshot_id, is_admin)
            parent = session.get(Share, snapshot.share_id)
            if snapshot.status != "available":
                raise Fault(400, "Invalid share snapshot: status must be 'available'.")
            parent_type = parent.share_type if parent is not None else None
            if share_type is None:
                share_type = parent_type
            elif parent_type is not None and share_type.id != parent_type.id:
                raise Fault(400, "Invalid share type specified: the requested share type must match the "
                                 "type of the source share.")
            snapshot_support = _spec_true(parent_type, "snapshot_support")
            if not _spec_true(parent_type, "create_share_from_snapshot_support", snapshot_support):
                raise Fault(400, f"A new share may not be created from snapshot '{snapshot.id}', because "
                                 "the snapshot's parent share does not have that capability.")
            if size is None:
                size = snapshot.size
            elif size < snapshot.size:
                raise Fault(400, f"Share size '{size}' must be equal or greater than snapshot size")
            if not snapshot.driver_path:
                raise Fault(400, "Invalid share snapshot: the snapshot has no data.")
        elif share_type is None:
            share_type = _default_share_type(rt, session)
        check_size_for_type(share_type, size)
        zones = share_type.specs.get("availability_zones") if share_type is not None else None
        unschedulable = False
        if zones:
            allowed = [z.strip() for z in zones.split(",") if z.strip()]
            if zone not in allowed:
                if req.availability_zone:
                    raise Fault(400, f"Share type {req.share_type or share_type.name} is not supported within "
                                     f"the availability zone chosen {req.availability_zone}.")
                unschedulable = True  # Manila's scheduler finds no host: the share ends in error
        if share_type is not None and _spec_true(share_type, "driver_handles_share_servers"):
            raise Fault(400, "Share network must be set when the driver_handles_share_servers is true.")
        quotas.check_per_share_size(session, rt, ctx.project_id, ctx.user_id, size)
        quotas.reserve(session, rt, ctx.project_id, ctx.user_id, {"shares": 1, "gigabytes": size})
        share = Share(user_id=ctx.user_id, project_id=ctx.project_id, display_name=req.name,
                      display_description=req.description, size=size, share_proto=req.share_proto,
                      share_type_id=share_type.id if share_type else None,
                      status="error" if unschedulable else "creating",
                      progress="0%", availability_zone=zone, is_public=req.is_public,
                      metadata_=dict(req.metadata), snapshot_id=snapshot.id if snapshot else None,
                      host=local.host_name(), mount_point_name=req.mount_point_name,
                      encryption_key_ref=req.encryption_key_ref, is_soft_deleted=False, is_managed=False)
        share.share_type = share_type
        share.export_locations = []
        session.add(share)
        session.flush()
        share.driver_path = str(local.share_dir(rt.config.shares_path, share.id))
        payload = {"source": snapshot.driver_path} if snapshot else {}
        if not unschedulable:
            enqueue(session, JOB_CREATE, share.id, payload)
    rt.notify_workers()
    return share


# -- read ------------------------------------------------------------------------------

def get(rt, ctx, share_id: str) -> Share:
    with rt.db.reader() as session:
        return _visible(rt, ctx, session, share_id, lock=False)


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _metadata_filter(raw: str) -> dict:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            raise Fault(400, "Invalid metadata filter.") from None
    if not isinstance(value, dict):
        raise Fault(400, "Invalid metadata filter.")
    return {str(k): str(v) for k, v in value.items()}


def list_shares(rt, ctx, query) -> tuple[list[Share], int | None]:
    is_admin = caller_is_admin(rt, ctx)
    stmt = select(Share).where(Share.deleted.is_(False), Share.is_soft_deleted.is_(query.is_soft_deleted))
    filters = dict(query.filters)
    if "host" in filters:
        rt.policy.authorize(ctx, policy.LIST_BY_HOST)
    if "share_server_id" in filters:
        rt.policy.authorize(ctx, policy.LIST_BY_SERVER_ID)
    project_filter = filters.pop("project_id", None) if is_admin else None
    if project_filter:
        stmt = stmt.where(Share.project_id == project_filter)
    elif not (is_admin and query.all_tenants):
        own = Share.project_id == ctx.project_id
        stmt = stmt.where(or_(own, Share.is_public.is_(True)) if query.is_public else own)
    exact = {"display_name": Share.display_name, "display_description": Share.display_description,
             "status": Share.status, "share_type_id": Share.share_type_id, "snapshot_id": Share.snapshot_id,
             "share_network_id": Share.share_network_id, "share_group_id": Share.share_group_id,
             "host": Share.host, "source_backup_id": Share.source_backup_id,
             "mount_point_name": Share.mount_point_name, "id": Share.id, "user_id": Share.user_id,
             "availability_zone": Share.availability_zone, "share_proto": Share.share_proto,
             "encryption_key_ref": Share.encryption_key_ref}
    metadata_filter = specs_filter = None
    for key, value in filters.items():
        if key in exact:
            stmt = stmt.where(exact[key] == value)
        elif key == "display_name~":
            stmt = stmt.where(Share.display_name.like(_like(value), escape="\\"))
        elif key == "display_description~":
            stmt = stmt.where(Share.display_description.like(_like(value), escape="\\"))
        elif key == "share_server_id":
            stmt = stmt.where(Share.id.is_(None))  # no share servers here
        elif key in ("export_location_path", "export_location_id"):
            column = ShareExportLocation.path if key == "export_location_path" else ShareExportLocation.id
            stmt = stmt.where(Share.id.in_(select(ShareExportLocation.share_id).where(column == value)))
        elif key == "metadata":
            metadata_filter = _metadata_filter(value)
        elif key == "extra_specs":
            specs_filter = _metadata_filter(value)
    column = _share_sort_column(query.sort_key)
    descending = query.sort_dir != "asc"
    stmt = stmt.order_by(column.desc() if descending else column.asc(),
                         Share.id.desc() if descending else Share.id.asc())
    in_python = metadata_filter or specs_filter or (query.marker and _nullable_sort(query.sort_key))
    with rt.db.reader() as session:
        if not in_python:  # the common case: filtered, counted and paged in SQL
            return _page_in_sql(session, stmt, column, descending, query)
        rows = list(session.scalars(stmt).unique().all())
    if metadata_filter:
        rows = [r for r in rows if all((r.metadata_ or {}).get(k) == v for k, v in metadata_filter.items())]
    if specs_filter:
        rows = [r for r in rows if r.share_type is not None and
                all(str(r.share_type.specs.get(k, "")).lower() == v.lower() for k, v in specs_filter.items())]
    count = len(rows) if query.with_count else None
    if query.marker:
        position = next((i for i, row in enumerate(rows) if row.id == query.marker), None)
        if position is None:
            raise Fault(400, f"marker [{query.marker}] not found")
        rows = rows[position + 1:]
    limit = query.limit if query.limit else None
    page = rows[query.offset:query.offset + limit] if limit else rows[query.offset:]
    return page, count


def _share_sort_column(sort_key: str):
    if sort_key == "export_location":
        return (select(func.min(ShareExportLocation.path)).where(ShareExportLocation.share_id == Share.id)
                .correlate(Share).scalar_subquery())
    return getattr(Share, sort_key)


def _nullable_sort(sort_key: str) -> bool:
    """NULLs sort first or last depending on the database; a marker after one is found in Python."""
    return sort_key == "export_location" or getattr(Share, sort_key).nullable


def _page_in_sql(session, stmt, column, descending: bool, query) -> tuple[list[Share], int | None]:
    """The page (and the count) from the database: after the marker by keyset (sort value,
    then id, as the order), then offset and limit. Its cost grows with the page, not with
    the project's shares."""
    count = None
    if query.with_count:
        count = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    if query.marker:
        found = session.execute(stmt.with_only_columns(column).order_by(None)
                                .where(Share.id == query.marker)).first()
        if found is None:
            raise Fault(400, f"marker [{query.marker}] not found")
        if descending:
            stmt = stmt.where(or_(column < found[0], and_(column == found[0], Share.id < query.marker)))
        else:
            stmt = stmt.where(or_(column > found[0], and_(column == found[0], Share.id > query.marker)))
    stmt = stmt.offset(query.offset)
    if query.limit:
        stmt = stmt.limit(query.limit)
    return list(session.scalars(stmt).unique().all()), count


# -- update / delete ----------------------------------------------------------------------

def update(rt, ctx, share_id: str, values: dict) -> Share:
    with rt.db.transaction() as session:
        share = _visible(rt, ctx, session, share_id)
        authorize(rt, ctx, policy.UPDATE, share)
        if values.get("is_public"):
            rt.policy.authorize(ctx, policy.SET_PUBLIC)
        if share.is_soft_deleted:
            raise Fault(403, f"Share '{share.id} cannot be updated, since it has been soft deleted.")
        for key, value in values.items():
            setattr(share, key, value)
        share.updated_at = utcnow()
    return share


def _check_deletable(session, share: Share, force: bool = False) -> None:
    if not force and share.status not in DELETABLE:
        raise Fault(403, "Share status must be one of ('available', 'error', 'inactive')")
    snapshots = session.scalar(select(func.count()).select_from(ShareSnapshot).where(
        ShareSnapshot.share_id == share.id, ShareSnapshot.deleted.is_(False)))
    if snapshots:
        raise Fault(403, f"Share still has {snapshots} dependent snapshots.")
    backups = session.scalar(select(func.count()).select_from(ShareBackup).where(
        ShareBackup.share_id == share.id, ShareBackup.deleted.is_(False)))
    if backups:
        raise Fault(403, f"Share still has {backups} dependent backups.")


def delete(rt, ctx, share_id: str, force: bool = False) -> None:
    with rt.db.transaction() as session:
        share = _visible(rt, ctx, session, share_id)
        authorize(rt, ctx, policy.FORCE_DELETE if force else policy.DELETE, share)
        _check_deletable(session, share, force)
        share.status = "deleting"
        share.updated_at = utcnow()
        enqueue(session, JOB_DELETE, share.id, {})
    rt.notify_workers()


def soft_delete(rt, ctx, share_id: str) -> None:
    with rt.db.transaction() as session:
        share = _visible(rt, ctx, session, share_id)
        authorize(rt, ctx, policy.SOFT_DELETE, share)
        if share.is_soft_deleted:
            raise Fault(403, "Invalid share: Share is already in the recycle bin.")
        _check_deletable(session, share)
        share.is_soft_deleted = True
        share.scheduled_to_be_deleted_at = utcnow() + SOFT_DELETE_RETENTION
        share.updated_at = utcnow()
        # The purge waits in the queue until the retention time; a restore makes it a no-op.
        job = enqueue(session, JOB_PURGE, share.id, {})
        job.not_before = share.scheduled_to_be_deleted_at


def purge_if_expired(rt, share_id: str) -> bool:
    """Delete a soft-deleted share whose retention time has passed (the purge job's work)."""
    with rt.db.transaction() as session:
        share = load_share(session, share_id, lock=True)
        if share is None or not share.is_soft_deleted or share.scheduled_to_be_deleted_at is None:
            return False
        if share.scheduled_to_be_deleted_at > utcnow() or share.status not in DELETABLE:
            return False
        share.status = "deleting"
        share.updated_at = utcnow()
        enqueue(session, JOB_DELETE, share.id, {})
    rt.notify_workers()
    return True


def restore(rt, ctx, share_id: str) -> bool:
    """Take a share out of the recycle bin. False: it was not in it (Manila then answers 200)."""
    with rt.db.transaction() as session:
        share = load_share(session, share_id, lock=True)
        if share is None or (not share.is_public and not rt.policy.check(ctx, policy.GET, target(share))):
            raise Fault(404, f"No share exists with ID {share_id}.")
        authorize(rt, ctx, policy.RESTORE, share)
        if not share.is_soft_deleted:
            return False
        if share.status in ("deleting", "error_deleting"):
            raise Fault(403, f"Share {share.id} is being deleted or has suffered an error during deletion, "
                             "cannot be restored.")
        share.is_soft_deleted = False
        share.scheduled_to_be_deleted_at = None
        share.updated_at = utcnow()
    return True


# -- admin and size actions ----------------------------------------------------------------

def reset_status(rt, ctx, share_id: str, status: str) -> None:
    with rt.db.transaction() as session:
        share = _visible(rt, ctx, session, share_id)
        authorize(rt, ctx, policy.RESET_STATUS, share)
        if share.is_soft_deleted:
            raise Fault(403, f"status cannot be reset for share '{share.id}' since it has been soft deleted.")
        share.status = status
        share.updated_at = utcnow()


def reset_task_state(rt, ctx, share_id: str, task_state: str | None) -> None:
    with rt.db.transaction() as session:
        share = _visible(rt, ctx, session, share_id)
        authorize(rt, ctx, policy.RESET_TASK_STATE, share)
        if share.is_soft_deleted:
            raise Fault(403, f"task state cannot be reset for share '{share.id}' since it has been soft "
                             "deleted.")
        share.task_state = task_state
        share.updated_at = utcnow()


def extend(rt, ctx, share_id: str, new_size: int, force: bool = False) -> None:
    with rt.db.transaction() as session:
        share = _visible(rt, ctx, session, share_id)
        authorize(rt, ctx, policy.EXTEND, share)
        if force:
            authorize(rt, ctx, policy.FORCE_EXTEND, share)
        if share.is_soft_deleted:
            raise Fault(400, f"Invalid share: Share '{share.id}' cannot be extended, since it has been soft "
                             "deleted.")
        if share.status != "available":
            raise Fault(400, f"Invalid share: Share {share.id} status must be 'available' to extend, but "
                             f"current status is: {share.status}.")
        if new_size <= share.size:
            raise Fault(400, "Invalid input received: New size for extend must be greater than current size. "
                             f"(current: {share.size}, extended: {new_size}).")
        check_size_for_type(share.share_type, new_size, "extend", caller_is_admin(rt, ctx))
        quotas.check_per_share_size(session, rt, share.project_id, share.user_id, new_size)
        # Charged now (the row carries the new size), so concurrent requests cannot overshoot.
        try:
            quotas.reserve(session, rt, share.project_id, share.user_id, {"gigabytes": new_size - share.size})
        except Fault as fault:  # Manila's extend maps the quota error to 403, without the class name
            raise Fault(403, fault.message.split(": ", 1)[-1]) from None
        enqueue(session, JOB_EXTEND, share.id, {"old_size": share.size, "new_size": new_size})
        share.status = "extending"
        share.size = new_size
        share.updated_at = utcnow()
    rt.notify_workers()


def shrink(rt, ctx, share_id: str, new_size: int) -> None:
    with rt.db.transaction() as session:
        share = _visible(rt, ctx, session, share_id)
        authorize(rt, ctx, policy.SHRINK, share)
        if share.is_soft_deleted:
            raise Fault(400, f"Invalid share: Share '{share.id}' cannot be shrunk, since it has been soft "
                             "deleted.")
        if share.status not in SHRINKABLE:
            raise Fault(400, f"Invalid share: Share {share.id} status must in ({', '.join(SHRINKABLE)}) to "
                             f"shrink, but current status is: {share.status}.")
        if new_size <= 0 or new_size >= share.size:
            raise Fault(400, "Invalid input received: New size for shrink must be less than current size and "
                             f"greater than 0 (current: {share.size}, new: {new_size}).")
        check_size_for_type(share.share_type, new_size, "shrink")
        share.status = "shrinking"
        share.updated_at = utcnow()
        enqueue(session, JOB_SHRINK, share.id, {"new_size": new_size})
    rt.notify_workers()


def revert_to_snapshot(rt, ctx, share_id: str, snapshot_id: str) -> None:
    """Manila's revert: the share's latest snapshot only, both available; the share grows
    back to the snapshot's size if it was shrunk since."""
    with rt.db.transaction() as session:
        share = _visible(rt, ctx, session, share_id)
        authorize(rt, ctx, policy.REVERT_TO_SNAPSHOT, share)
        if share.is_soft_deleted:
            raise Fault(403, f"Share '{share.id} cannot revert to snapshot, since it has been soft deleted.")
        if not _spec_true(share.share_type, "revert_to_snapshot_support"):
            raise Fault(400, f"Share {share.id} may not be reverted to snapshot {snapshot_id}, because the "
                             "share does not have that capability.")
        snapshot = session.scalars(select(ShareSnapshot).where(
            ShareSnapshot.id == snapshot_id, ShareSnapshot.deleted.is_(False))).first()
        if snapshot is None or not (caller_is_admin(rt, ctx) or snapshot.project_id == ctx.project_id):
            raise Fault(400, f"Snapshot {snapshot_id} could not be found.")
        if snapshot.share_id != share.id:
            raise Fault(400, f"Snapshot {snapshot_id} is not associated with share {share.id}.")
        if share.status != "available":
            raise Fault(409, f"Share {share.id} is in '{share.status}' state, but it must be in 'available' "
                             "state to be reverted to a snapshot.")
        if snapshot.status != "available":
            raise Fault(409, f"Snapshot {snapshot_id} is in '{snapshot.status}' state, but it must be in "
                             "'available' state to be restored.")
        latest = session.scalars(select(ShareSnapshot).where(
            ShareSnapshot.share_id == share.id, ShareSnapshot.deleted.is_(False))
            .order_by(ShareSnapshot.created_at.desc(), ShareSnapshot.id.desc()).limit(1)).first()
        if latest is not None and latest.id != snapshot.id:
            raise Fault(409, f"Snapshot {snapshot_id} may not be restored because it is not the most recent "
                             f"snapshot of share {share.id}. Currently the latest snapshot is {latest.id}.")
        if not snapshot.driver_path or not share.driver_path:
            raise Fault(400, f"Snapshot {snapshot_id} has no data to revert to.")
        if snapshot.size > share.size:
            try:
                quotas.reserve(session, rt, share.project_id, share.user_id,
                               {"gigabytes": snapshot.size - share.size})
            except Fault as fault:
                raise Fault(403, fault.message.split(": ", 1)[-1]) from None
            share.size = snapshot.size
        share.status = "reverting"
        share.updated_at = utcnow()
        snapshot.status = "restoring"
        enqueue(session, JOB_REVERT, share.id, {"snapshot_id": snapshot.id, "source": snapshot.driver_path})
    rt.notify_workers()


def unmanage(rt, ctx, share_id: str) -> None:
    """Forget the share: the row goes, the files stay where they are."""
    with rt.db.transaction() as session:
        share = _visible(rt, ctx, session, share_id)
        authorize(rt, ctx, policy.UNMANAGE, share)
        if share.status in TRANSITIONAL:
            raise Fault(403, "Share with transitional state can not be unmanaged. "
                             f"Share '{share.id}' is in '{share.status}' state.")
        snapshots = session.scalar(select(func.count()).select_from(ShareSnapshot).where(
            ShareSnapshot.share_id == share.id, ShareSnapshot.deleted.is_(False)))
        if snapshots:
            raise Fault(403, f"Share '{share.id}' can not be unmanaged because it has '{snapshots}' "
                             "dependent snapshot(s).")
        backups = session.scalar(select(func.count()).select_from(ShareBackup).where(
            ShareBackup.share_id == share.id, ShareBackup.deleted.is_(False)))
        if backups:
            raise Fault(403, f"Share '{share.id}' can not be unmanaged because it has '{backups}' "
                             "dependent backup(s).")
        share.status = "unmanaged"
        share.deleted = True
        share.deleted_at = utcnow()


# -- manage ------------------------------------------------------------------------------

def manage(rt, ctx, req) -> Share:
    enabled = [p.upper() for p in rt.config.enabled_share_protocols]
    if req.protocol not in enabled:
        raise Fault(400, f"Invalid share protocol provided: {req.protocol}. It is either disabled or "
                         f"unsupported. Available protocols: {list(rt.config.enabled_share_protocols)}")
    export_path = req.export_path
    if not export_path.startswith("/") and ":" in export_path:
        export_path = export_path.split(":", 1)[1]  # "host:/path" as NFS clients write it
    resolved = local.resolve_manage_path(export_path, list(rt.config.manage_allowed_roots),
                                         [rt.config.shares_path, rt.config.snapshots_path,
                                          rt.config.repository_path])
    if resolved is None:
        raise Fault(400, f"Invalid export_path {req.export_path}: it is not an existing directory under "
                         "a directory allowed for managing (manage_allowed_roots).")
    path = Path(resolved)
    if req.is_public:
        rt.policy.authorize(ctx, policy.SET_PUBLIC)
    is_admin = caller_is_admin(rt, ctx)
    with rt.db.transaction() as session:
        share_type = (find_share_type(session, ctx, is_admin, req.share_type) if req.share_type
                      else _default_share_type(rt, session))
        taken = session.scalar(select(func.count()).select_from(Share).where(
            Share.deleted.is_(False), Share.driver_path == str(path)))
        if taken:
            raise Fault(409, "Invalid share: Share already exists.")
        managed = session.scalars(select(Share.driver_path).where(
            Share.deleted.is_(False), Share.is_managed.is_(True))).all()
        for other in managed:
            other_path = Path(other)
            if other_path in path.parents or path in other_path.parents:
                raise Fault(409, f"Invalid share: {path} overlaps the managed share at {other_path}.")
        quotas.reserve(session, rt, ctx.project_id, ctx.user_id, {"shares": 1})
        share = Share(user_id=ctx.user_id, project_id=ctx.project_id, display_name=req.name,
                      display_description=req.description, size=0, share_proto=req.protocol,
                      share_type_id=share_type.id if share_type else None, status="manage_starting",
                      progress="0%", availability_zone=rt.config.storage_availability_zone,
                      is_public=req.is_public, metadata_={}, host=local.host_name(),
                      driver_path=str(path), is_managed=True, is_soft_deleted=False)
        share.share_type = share_type
        share.export_locations = []
        session.add(share)
        session.flush()
        enqueue(session, JOB_MANAGE, share.id, {})
    rt.notify_workers()
    return share
