"""Share actions: reset_status, reset_task_state, extend, shrink and revert (Manila's
share actions controller and share/api.py rules); each writes its state and its job in one
transaction."""
from __future__ import annotations

from sqlalchemy import select

from sharebackup.core.context import RequestContext
from sharebackup.core.runtime import Runtime
from sharebackup.core.errors import Conflict, Forbidden, Invalid, OverQuota
from sharebackup.db.models import ShareSnapshot, utcnow
from sharebackup.queue.lease_queue import enqueue
from sharebackup.policies import shares as policy
from sharebackup.services import quotas
from sharebackup.services.shares import (JOB_EXTEND, JOB_REVERT, JOB_SHRINK, SHRINKABLE, _spec_true, visible_share,
                                         authorize, caller_is_admin, check_size_for_type)


def reset_status(rt: Runtime, ctx: RequestContext, share_id: str, status: str) -> None:
    with rt.db.transaction() as session:
        share = visible_share(rt, ctx, session, share_id, lock=True)
        authorize(rt, ctx, policy.RESET_STATUS, share)
        if share.is_soft_deleted:
            raise Forbidden(f"status cannot be reset for share '{share.id}' since it has been soft deleted.")
        share.status = status
        share.updated_at = utcnow()


def reset_task_state(rt: Runtime, ctx: RequestContext, share_id: str, task_state: str | None) -> None:
    with rt.db.transaction() as session:
        share = visible_share(rt, ctx, session, share_id, lock=True)
        authorize(rt, ctx, policy.RESET_TASK_STATE, share)
        if share.is_soft_deleted:
            raise Forbidden(f"task state cannot be reset for share '{share.id}' since it has been soft "
                             "deleted.")
        share.task_state = task_state
        share.updated_at = utcnow()


def extend(rt: Runtime, ctx: RequestContext, share_id: str, new_size: int, force: bool = False) -> None:
    with rt.db.transaction() as session:
        share = visible_share(rt, ctx, session, share_id, lock=True)
        authorize(rt, ctx, policy.EXTEND, share)
        if force:
            authorize(rt, ctx, policy.FORCE_EXTEND, share)
        if share.is_soft_deleted:
            raise Invalid(f"Invalid share: Share '{share.id}' cannot be extended, since it has been soft "
                             "deleted.")
        if share.status != "available":
            raise Invalid(f"Invalid share: Share {share.id} status must be 'available' to extend, but "
                             f"current status is: {share.status}.")
        if new_size <= share.size:
            raise Invalid("Invalid input received: New size for extend must be greater than current size. "
                             f"(current: {share.size}, extended: {new_size}).")
        check_size_for_type(share.share_type, new_size, "extend", caller_is_admin(rt, ctx))
        quotas.check_per_share_size(session, rt, share.project_id, share.user_id, new_size)
        # Charged now (the row carries the new size), so concurrent requests cannot overshoot.
        try:
            quotas.reserve(session, rt, share.project_id, share.user_id, {"gigabytes": new_size - share.size})
        except OverQuota as exceeded:  # Manila's extend answers 403 with the quota's text alone
            raise Forbidden(exceeded.reason) from None
        enqueue(session, JOB_EXTEND, share.id, {"old_size": share.size, "new_size": new_size})
        share.status = "extending"
        share.size = new_size
        share.updated_at = utcnow()
    rt.notify_workers()


def shrink(rt: Runtime, ctx: RequestContext, share_id: str, new_size: int) -> None:
    with rt.db.transaction() as session:
        share = visible_share(rt, ctx, session, share_id, lock=True)
        authorize(rt, ctx, policy.SHRINK, share)
        if share.is_soft_deleted:
            raise Invalid(f"Invalid share: Share '{share.id}' cannot be shrunk, since it has been soft "
                             "deleted.")
        if share.status not in SHRINKABLE:
            raise Invalid(f"Invalid share: Share {share.id} status must in ({', '.join(SHRINKABLE)}) to "
                             f"shrink, but current status is: {share.status}.")
        if new_size <= 0 or new_size >= share.size:
            raise Invalid("Invalid input received: New size for shrink must be less than current size and "
                             f"greater than 0 (current: {share.size}, new: {new_size}).")
        check_size_for_type(share.share_type, new_size, "shrink")
        share.status = "shrinking"
        share.updated_at = utcnow()
        enqueue(session, JOB_SHRINK, share.id, {"new_size": new_size})
    rt.notify_workers()


def revert_to_snapshot(rt: Runtime, ctx: RequestContext, share_id: str, snapshot_id: str) -> None:
    """Manila's revert: the share's latest snapshot only, both available; the share grows
    back to the snapshot's size if it was shrunk since."""
    with rt.db.transaction() as session:
        share = visible_share(rt, ctx, session, share_id, lock=True)
        authorize(rt, ctx, policy.REVERT_TO_SNAPSHOT, share)
        if share.is_soft_deleted:
            raise Forbidden(f"Share '{share.id} cannot revert to snapshot, since it has been soft deleted.")
        if not _spec_true(share.share_type, "revert_to_snapshot_support"):
            raise Invalid(f"Share {share.id} may not be reverted to snapshot {snapshot_id}, because the "
                             "share does not have that capability.")
        snapshot = session.scalars(select(ShareSnapshot).where(
            ShareSnapshot.id == snapshot_id, ShareSnapshot.deleted.is_(False))).first()
        if snapshot is None or not (caller_is_admin(rt, ctx) or snapshot.project_id == ctx.project_id):
            raise Invalid(f"Snapshot {snapshot_id} could not be found.")
        if snapshot.share_id != share.id:
            raise Invalid(f"Snapshot {snapshot_id} is not associated with share {share.id}.")
        if share.status != "available":
            raise Conflict(f"Share {share.id} is in '{share.status}' state, but it must be in 'available' "
                             "state to be reverted to a snapshot.")
        if snapshot.status != "available":
            raise Conflict(f"Snapshot {snapshot_id} is in '{snapshot.status}' state, but it must be in "
                             "'available' state to be restored.")
        latest = session.scalars(select(ShareSnapshot).where(
            ShareSnapshot.share_id == share.id, ShareSnapshot.deleted.is_(False))
            .order_by(ShareSnapshot.created_at.desc(), ShareSnapshot.id.desc()).limit(1)).first()
        if latest is not None and latest.id != snapshot.id:
            raise Conflict(f"Snapshot {snapshot_id} may not be restored because it is not the most recent "
                             f"snapshot of share {share.id}. Currently the latest snapshot is {latest.id}.")
        if not snapshot.driver_path or not share.driver_path:
            raise Invalid(f"Snapshot {snapshot_id} has no data to revert to.")
        if snapshot.size > share.size:
            try:
                quotas.reserve(session, rt, share.project_id, share.user_id,
                               {"gigabytes": snapshot.size - share.size})
            except OverQuota as exceeded:  # as extend: 403 with the quota's text alone
                raise Forbidden(exceeded.reason) from None
            share.size = snapshot.size
        share.status = "reverting"
        share.updated_at = utcnow()
        snapshot.status = "restoring"
        enqueue(session, JOB_REVERT, share.id, {"snapshot_id": snapshot.id, "source": snapshot.driver_path})
    rt.notify_workers()
