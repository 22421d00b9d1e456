"""Shares: the rules (Manila's manila/share/api.py and the v2 controllers' checks).

Every write happens in one transaction together with its job (lease queue); the local
driver's work runs in sharebackup/workflows/share_jobs.py. Visibility follows Manila: a share
is visible to its project, to admins, and (when public) to everyone; an invisible share
is a 404, and a visible share the caller may not change is a 403.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from sharebackup.services.ids import bad_id
from sharebackup.core.context import RequestContext
from sharebackup.core.runtime import Runtime
from sharebackup.core.errors import Forbidden, Invalid, NotFound
from sharebackup.db.models import Share, ShareBackup, ShareSnapshot, ShareType, ShareTypeProject, utcnow
from sharebackup.queue import kinds
from sharebackup.queue.lease_queue import enqueue
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


def caller_is_admin(rt: Runtime, ctx: RequestContext) -> bool:
    """The one admin check: the context's own flag, which the auth middleware sets from the
    context_is_admin policy rule (noauth: from its admin user or an admin role), so an operator's
    policy.yaml decides it everywhere alike."""
    return ctx.is_admin



def load_share(session, share_id: str, lock: bool = False) -> Share | None:
    """The live share row; ``lock`` takes its row lock (PostgreSQL) for a read-modify-write."""
    if bad_id(share_id):
        return None
    query = select(Share).where(Share.id == share_id, Share.deleted.is_(False))
    if lock:
        query = query.with_for_update(of=Share)
    return session.scalars(query).first()


def visible_share(rt: Runtime, ctx: RequestContext, session, share_id: str, lock: bool = False,
                  not_found: str | None = None) -> Share:
    """The share if the caller may see it, else NotFound (``not_found``: the text the endpoint's
    Manila counterpart gives). The one rule, as Manila's share_api.get: a public share, or one the
    share:get policy lets the caller read with the share's own project as target. (Snapshots and
    backups add their own rule on top: another project's public share is seen but not theirs.)"""
    share = load_share(session, share_id, lock)
    if share is None or not (share.is_public or rt.policy.check(ctx, policy.GET, target(share))):
        raise NotFound(not_found)
    return share



def authorize(rt: Runtime, ctx: RequestContext, rule: str, share: Share) -> None:
    rt.policy.authorize(ctx, rule, target(share))


# -- share types, snapshots --------------------------------------------------------------

def _spec_true(share_type: ShareType | None, key: str, default: bool = False) -> bool:
    return share_type.spec_is_true(key, default) if share_type is not None else default


def _share_type_visible(session, ctx: RequestContext, is_admin: bool, share_type: ShareType) -> bool:
    if share_type.is_public or is_admin:
        return True
    return session.scalar(select(func.count()).select_from(ShareTypeProject).where(
        ShareTypeProject.share_type_id == share_type.id,
        ShareTypeProject.project_id == ctx.project_id)) > 0


def find_share_type(session, ctx: RequestContext, is_admin: bool, ident: str) -> ShareType:
    query = select(ShareType).where(ShareType.deleted.is_(False))
    found = session.scalars(query.where(ShareType.id == ident)).first()
    if found is None:
        found = session.scalars(query.where(ShareType.name == ident)).first()
    if found is None or not _share_type_visible(session, ctx, is_admin, found):
        raise NotFound("Share type not found.")
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
        raise Invalid(f"Invalid input received: Specified share size of '{size}' is less than the minimum "
                         f"required size of '{minimum}' for share type '{name}'.")
    maximum = _int_spec(share_type, "provisioning:max_share_size")
    if maximum is not None and size > maximum:
        raise Invalid(f"Invalid input received: Specified share size of '{size}' is greater than the "
                         f"maximum allowable size of '{maximum}' for share type '{name}'.")
    extend_max = _int_spec(share_type, "provisioning:max_share_extend_size")
    if operation == "extend" and not is_admin and extend_max is not None and size > extend_max:
        raise Invalid(f"Invalid input received: Specified share size of '{size}' is greater than the "
                         f"maximum allowable extend size of '{extend_max}' for share type '{name}'.")


def _default_share_type(rt: Runtime, session) -> ShareType | None:
    return session.scalars(select(ShareType).where(ShareType.deleted.is_(False),
                                                   ShareType.name == rt.config.default_share_type)).first()


def _snapshot(rt: Runtime, ctx: RequestContext, session, snapshot_id: str, is_admin: bool) -> ShareSnapshot:
    snap = None if bad_id(snapshot_id) else session.scalars(select(ShareSnapshot).where(
        ShareSnapshot.id == snapshot_id, ShareSnapshot.deleted.is_(False))).first()
    if snap is None or not (is_admin or snap.project_id == ctx.project_id):
        raise NotFound(f"Snapshot {snapshot_id} could not be found.")
    return snap


# -- create ----------------------------------------------------------------------------

def create(rt: Runtime, ctx: RequestContext, req) -> Share:
    enabled = [p.upper() for p in rt.config.enabled_share_protocols]
    if req.share_proto not in enabled:
        raise Invalid(f"Invalid share protocol provided: {req.share_proto}. It is either disabled or "
                         f"unsupported. Available protocols: {list(rt.config.enabled_share_protocols)}")
    zone = rt.config.storage_availability_zone
    if req.availability_zone and req.availability_zone != zone:
        raise NotFound(f"Availability zone {req.availability_zone} could not be found.")
    if req.share_network_id:
        raise NotFound(f"Share network {req.share_network_id} could not be found.")
    if req.share_group_id:
        raise NotFound(f"Share group {req.share_group_id} could not be found.")
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
            snapshot, share_type, size = _from_snapshot(rt, ctx, session, req, share_type, is_admin)
        elif share_type is None:
            share_type = _default_share_type(rt, session)
        check_size_for_type(share_type, size)
        unschedulable = not _zone_allowed(req, share_type, zone)
        if share_type is not None and _spec_true(share_type, "driver_handles_share_servers"):
            raise Invalid("Share network must be set when the driver_handles_share_servers is true.")
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


def _from_snapshot(rt: Runtime, ctx: RequestContext, session, req, share_type, is_admin: bool):
    """(snapshot, share type, size) of a share created from a snapshot, or Manila's 400."""
    snapshot = _snapshot(rt, ctx, session, req.snapshot_id, is_admin)
    parent = session.get(Share, snapshot.share_id)
    if snapshot.status != "available":
        raise Invalid("Invalid share snapshot: status must be 'available'.")
    parent_type = parent.share_type if parent is not None else None
    if share_type is None:
        share_type = parent_type
    elif parent_type is not None and share_type.id != parent_type.id:
        raise Invalid("Invalid share type specified: the requested share type must match the "
                         "type of the source share.")
    snapshot_support = _spec_true(parent_type, "snapshot_support")
    if not _spec_true(parent_type, "create_share_from_snapshot_support", snapshot_support):
        raise Invalid(f"A new share may not be created from snapshot '{snapshot.id}', because "
                         "the snapshot's parent share does not have that capability.")
    size = req.size
    if size is None:
        size = snapshot.size
    elif size < snapshot.size:
        raise Invalid(f"Share size '{size}' must be equal or greater than snapshot size")
    if not snapshot.driver_path:
        raise Invalid("Invalid share snapshot: the snapshot has no data.")
    return snapshot, share_type, size


def _zone_allowed(req, share_type, zone: str) -> bool:
    """False when the type's availability_zones leave ours out and no zone was asked for (Manila's
    scheduler then finds no host: the share ends in error); 400 when the asked zone is left out."""
    zones = share_type.specs.get("availability_zones") if share_type is not None else None
    if not zones or zone in [z.strip() for z in zones.split(",") if z.strip()]:
        return True
    if req.availability_zone:
        raise Invalid(f"Share type {req.share_type or share_type.name} is not supported within "
                         f"the availability zone chosen {req.availability_zone}.")
    return False


# -- read ------------------------------------------------------------------------------

def get(rt: Runtime, ctx: RequestContext, share_id: str) -> Share:
    with rt.db.reader() as session:
        return visible_share(rt, ctx, session, share_id)


# -- update / delete ----------------------------------------------------------------------

def update(rt: Runtime, ctx: RequestContext, share_id: str, values: dict) -> Share:
    with rt.db.transaction() as session:
        share = visible_share(rt, ctx, session, share_id, lock=True)
        authorize(rt, ctx, policy.UPDATE, share)
        if values.get("is_public"):
            rt.policy.authorize(ctx, policy.SET_PUBLIC)
        if share.is_soft_deleted:
            raise Forbidden(f"Share '{share.id} cannot be updated, since it has been soft deleted.")
        for key, value in values.items():
            setattr(share, key, value)
        share.updated_at = utcnow()
    return share


def _check_deletable(session, share: Share, force: bool = False) -> None:
    if not force and share.status not in DELETABLE:
        raise Forbidden("Share status must be one of ('available', 'error', 'inactive')")
    snapshots = session.scalar(select(func.count()).select_from(ShareSnapshot).where(
        ShareSnapshot.share_id == share.id, ShareSnapshot.deleted.is_(False)))
    if snapshots:
        raise Forbidden(f"Share still has {snapshots} dependent snapshots.")
    backups = session.scalar(select(func.count()).select_from(ShareBackup).where(
        ShareBackup.share_id == share.id, ShareBackup.deleted.is_(False)))
    if backups:
        raise Forbidden(f"Share still has {backups} dependent backups.")


def delete(rt: Runtime, ctx: RequestContext, share_id: str, force: bool = False) -> None:
    with rt.db.transaction() as session:
        share = visible_share(rt, ctx, session, share_id, lock=True)
        authorize(rt, ctx, policy.FORCE_DELETE if force else policy.DELETE, share)
        _check_deletable(session, share, force)
        share.status = "deleting"
        share.updated_at = utcnow()
        enqueue(session, JOB_DELETE, share.id, {})
    rt.notify_workers()


def soft_delete(rt: Runtime, ctx: RequestContext, share_id: str) -> None:
    with rt.db.transaction() as session:
        share = visible_share(rt, ctx, session, share_id, lock=True)
        authorize(rt, ctx, policy.SOFT_DELETE, share)
        if share.is_soft_deleted:
            raise Forbidden("Invalid share: Share is already in the recycle bin.")
        _check_deletable(session, share)
        share.is_soft_deleted = True
        share.scheduled_to_be_deleted_at = utcnow() + SOFT_DELETE_RETENTION
        share.updated_at = utcnow()
        # The purge waits in the queue until the retention time; a restore makes it a no-op.
        job = enqueue(session, JOB_PURGE, share.id, {})
        job.not_before = share.scheduled_to_be_deleted_at


def purge_if_expired(rt: Runtime, share_id: str) -> bool:
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


def restore(rt: Runtime, ctx: RequestContext, share_id: str) -> bool:
    """Take a share out of the recycle bin. False: it was not in it (Manila then answers 200)."""
    with rt.db.transaction() as session:
        share = visible_share(rt, ctx, session, share_id, lock=True,
                              not_found=f"No share exists with ID {share_id}.")
        authorize(rt, ctx, policy.RESTORE, share)
        if not share.is_soft_deleted:
            return False
        if share.status in ("deleting", "error_deleting"):
            raise Forbidden(f"Share {share.id} is being deleted or has suffered an error during deletion, "
                             "cannot be restored.")
        share.is_soft_deleted = False
        share.scheduled_to_be_deleted_at = None
        share.updated_at = utcnow()
    return True
