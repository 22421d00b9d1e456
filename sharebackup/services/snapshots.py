"""Share snapshots: the rules around creating, listing, changing and deleting them.

A snapshot is created ``creating`` together with a ``snapshot.create`` job (same
transaction); the job copies the share's directory and makes it ``available``. Deleting
sets ``deleting`` and queues ``snapshot.delete``, which removes the copy and marks the
row deleted (which also frees its quota, since usage is counted from live rows).
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sharebackup.core.context import RequestContext
from sharebackup.core.runtime import Runtime
from sharebackup.core.errors import Forbidden, Invalid, NotFound, Unsupported
from sharebackup.services import extra_specs
from sharebackup.db.models import Share, ShareSnapshot, new_id, utcnow
from sharebackup.queue import kinds, lease_queue
from sharebackup.policies import share_snapshots as policy
from sharebackup.services import quotas

CREATE_JOB, DELETE_JOB = kinds.SNAPSHOT_CREATE, kinds.SNAPSHOT_DELETE
DELETABLE = ("available", "error")


def _target(row) -> dict:
    return {"project_id": row.project_id, "user_id": row.user_id}


def _visible(query, ctx: RequestContext):
    query = query.where(ShareSnapshot.deleted.is_(False))
    if not ctx.is_admin:
        query = query.where(ShareSnapshot.project_id == ctx.project_id)
    return query


def find(session: Session, ctx: RequestContext, snapshot_id: str) -> ShareSnapshot | None:
    return session.scalars(_visible(select(ShareSnapshot), ctx).where(ShareSnapshot.id == snapshot_id)).first()


def get(rt: Runtime, ctx: RequestContext, snapshot_id: str) -> ShareSnapshot:
    with rt.db.reader() as session:
        snapshot = find(session, ctx, snapshot_id)
    if snapshot is None:
        raise NotFound()
    return snapshot


def _share(session: Session, ctx: RequestContext, share_id: str) -> Share:
    # Locked: a concurrent delete (or status change) of the share waits for this snapshot.
    share = session.scalars(select(Share).where(Share.id == share_id, Share.deleted.is_(False))
                            .with_for_update(of=Share)).first()
    if share is None or not (ctx.is_admin or share.project_id == ctx.project_id or share.is_public):
        raise NotFound(f"ShareNotFound: Share {share_id} could not be found.")
    return share


def snapshot_support(share: Share) -> bool:
    specs = share.share_type.specs if share.share_type is not None else {}
    return extra_specs.spec_is_true(specs, extra_specs.SNAPSHOT_SUPPORT)


def create(rt: Runtime, ctx: RequestContext, request: dict) -> ShareSnapshot:
    with rt.db.transaction() as session:
        share = _share(session, ctx, request["share_id"])
        if not snapshot_support(share):
            raise Unsupported(f"Snapshots cannot be created for share '{share.id}' since it does not have "
                             "that capability.")
        if share.is_soft_deleted:
            raise Forbidden(f"Snapshots cannot be created for share '{share.id}' since it has been soft "
                             "deleted.")
        rt.policy.authorize(ctx, policy.CREATE, _target(share))
        if share.status != "available":
            raise Invalid("Invalid share: Source share status must be available.")
        quotas.reserve(session, rt, ctx.project_id, ctx.user_id,
                       {"snapshots": 1, "snapshot_gigabytes": share.size})
        snapshot = ShareSnapshot(
            id=new_id(), user_id=ctx.user_id, project_id=ctx.project_id, share_id=share.id,
            size=share.size, share_size=share.size, share_proto=share.share_proto, status="creating",
            progress="0%", display_name=request["display_name"],
            display_description=request["display_description"], metadata_=request["metadata"])
        session.add(snapshot)
        lease_queue.enqueue(session, CREATE_JOB, snapshot.id)
        session.flush()
    rt.notify_workers()
    return snapshot


def update(rt: Runtime, ctx: RequestContext, snapshot_id: str, fields: dict) -> ShareSnapshot:
    with rt.db.transaction() as session:
        snapshot = find(session, ctx, snapshot_id)
        if snapshot is None:
            raise NotFound()
        rt.policy.authorize(ctx, policy.UPDATE, _target(snapshot))
        for key, value in fields.items():
            setattr(snapshot, key, value)
        snapshot.updated_at = utcnow()
        session.flush()
        return snapshot


def delete(rt: Runtime, ctx: RequestContext, snapshot_id: str, force: bool = False) -> None:
    with rt.db.transaction() as session:
        snapshot = find(session, ctx, snapshot_id)
        if snapshot is None:
            raise NotFound()
        if not force:
            rt.policy.authorize(ctx, policy.DELETE, _target(snapshot))
            if snapshot.status not in DELETABLE:
                raise Invalid("Invalid share snapshot: Share Snapshot status must be one of "
                                 "('available', 'error').")
        snapshot.status = "deleting"
        snapshot.updated_at = utcnow()
        lease_queue.enqueue(session, DELETE_JOB, snapshot.id)
    rt.notify_workers()


def reset_status(rt: Runtime, ctx: RequestContext, snapshot_id: str, status: str) -> None:
    with rt.db.transaction() as session:
        snapshot = find(session, ctx, snapshot_id)
        if snapshot is None:
            raise NotFound(f"Snapshot {snapshot_id} could not be found.")
        snapshot.status = status
        snapshot.updated_at = utcnow()


def list_snapshots(rt: Runtime, ctx: RequestContext, query: dict) -> tuple[list[ShareSnapshot], int | None]:
    """Manila's get_all_snapshots: the caller's project (all projects for an admin who asks),
    exact and inexact filters, then sort, offset and limit."""
    stmt = select(ShareSnapshot).where(ShareSnapshot.deleted.is_(False))
    if not query["all_tenants"]:
        stmt = stmt.where(ShareSnapshot.project_id == ctx.project_id)
    for key, value in query["filters"].items():
        if key.endswith("~"):
            column = getattr(ShareSnapshot, key[:-1])
            pattern = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(column.ilike(f"%{pattern}%", escape="\\"))
        elif key != "metadata":
            stmt = stmt.where(getattr(ShareSnapshot, key) == value)
    column = getattr(ShareSnapshot, query["sort_key"])
    order = column.desc() if query["sort_dir"] == "desc" else column.asc()
    tie = ShareSnapshot.id.desc() if query["sort_dir"] == "desc" else ShareSnapshot.id.asc()
    stmt = stmt.order_by(order, tie)
    start, limit = query["offset"], query["limit"]
    with rt.db.reader() as session:
        if query["metadata"]:
            # Metadata is a JSON column: filter those rows here, then page.
            wanted = {str(k): str(v) for k, v in query["metadata"].items()}
            rows = [row for row in session.scalars(stmt)
                    if all((row.metadata_ or {}).get(k) == v for k, v in wanted.items())]
            return rows[start:start + limit], (len(rows) if query["with_count"] else None)
        total = None
        if query["with_count"]:
            total = int(session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())))
        return list(session.scalars(stmt.offset(start).limit(limit))), total


def count_for_share(session: Session, share_id: str) -> int:
    """Live snapshots of a share (a share with snapshots cannot be deleted or backed up)."""
    return int(session.scalar(select(func.count()).select_from(ShareSnapshot).where(
        ShareSnapshot.share_id == share_id, ShareSnapshot.deleted.is_(False))) or 0)
