"""Managing (adopting) an existing directory as a share, and unmanaging (forgetting) one."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from sharebackup.core.context import RequestContext
from sharebackup.core.runtime import Runtime
from sharebackup.core.errors import Conflict, Forbidden, Invalid
from sharebackup.services.backup_policies import detach_share
from sharebackup.db.models import Share, ShareBackup, ShareSnapshot, utcnow
from sharebackup.queue.lease_queue import enqueue
from sharebackup.policies import shares as policy
from sharebackup.services import quotas
from sharebackup.services.shares import (JOB_MANAGE, TRANSITIONAL, _default_share_type, visible_share, authorize,
                                         caller_is_admin, find_share_type)
from sharebackup.shares import local


def unmanage(rt: Runtime, ctx: RequestContext, share_id: str) -> None:
    """Forget the share: the row goes, the files stay where they are."""
    with rt.db.transaction() as session:
        share = visible_share(rt, ctx, session, share_id, lock=True)
        authorize(rt, ctx, policy.UNMANAGE, share)
        if share.status in TRANSITIONAL:
            raise Forbidden("Share with transitional state can not be unmanaged. "
                             f"Share '{share.id}' is in '{share.status}' state.")
        snapshots = session.scalar(select(func.count()).select_from(ShareSnapshot).where(
            ShareSnapshot.share_id == share.id, ShareSnapshot.deleted.is_(False)))
        if snapshots:
            raise Forbidden(f"Share '{share.id}' can not be unmanaged because it has '{snapshots}' "
                             "dependent snapshot(s).")
        backups = session.scalar(select(func.count()).select_from(ShareBackup).where(
            ShareBackup.share_id == share.id, ShareBackup.deleted.is_(False)))
        if backups:
            raise Forbidden(f"Share '{share.id}' can not be unmanaged because it has '{backups}' "
                             "dependent backup(s).")
        share.status = "unmanaged"
        detach_share(session, share.id)  # an unmanaged share leaves every backup policy
        share.deleted = True
        share.deleted_at = utcnow()


def manage(rt: Runtime, ctx: RequestContext, req) -> Share:
    enabled = [p.upper() for p in rt.config.enabled_share_protocols]
    if req.protocol not in enabled:
        raise Invalid(f"Invalid share protocol provided: {req.protocol}. It is either disabled or "
                         f"unsupported. Available protocols: {list(rt.config.enabled_share_protocols)}")
    export_path = req.export_path
    if not export_path.startswith("/") and ":" in export_path:
        export_path = export_path.split(":", 1)[1]  # "host:/path" as NFS clients write it
    resolved = local.resolve_manage_path(export_path, list(rt.config.manage_allowed_roots),
                                         [rt.config.shares_path, rt.config.snapshots_path,
                                          rt.config.repository_path])
    if resolved is None:
        raise Invalid(f"Invalid export_path {req.export_path}: it is not an existing directory under "
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
            raise Conflict("Invalid share: Share already exists.")
        managed = session.scalars(select(Share.driver_path).where(
            Share.deleted.is_(False), Share.is_managed.is_(True))).all()
        for other in managed:
            other_path = Path(other)
            if other_path in path.parents or path in other_path.parents:
                raise Conflict(f"Invalid share: {path} overlaps the managed share at {other_path}.")
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
