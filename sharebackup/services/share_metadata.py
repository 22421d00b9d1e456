"""Share metadata: read, replace, update and delete items (Manila's share metadata API).

Keys that steer scheduling (ADMIN_ONLY_METADATA) are changed by admins only; a replace by
anyone else keeps them.
"""
from __future__ import annotations

from sharebackup.core.context import RequestContext
from sharebackup.core.runtime import Runtime
from sharebackup.core.errors import Forbidden, NotFound
from sharebackup.db.models import Share, utcnow
from sharebackup.policies import shares as policy
from sharebackup.services.shares import authorize, target, visible_share

# Metadata keys only admins may set (Manila's AdminOnlyMetadata.SCHEDULER_FILTERS).
ADMIN_ONLY_METADATA = ("__affinity_same_host", "__affinity_different_host")


def get_metadata(rt: Runtime, ctx: RequestContext, share_id: str) -> dict:
    with rt.db.reader() as session:
        share = _share_for(rt, ctx, session, share_id, policy.GET_METADATA, lock=False)
        return dict(share.metadata_ or {})


def _share_for(rt: Runtime, ctx: RequestContext, session, share_id: str, rule: str, lock: bool = True) -> Share:
    share = visible_share(rt, ctx, session, share_id, lock, not_found="Share not found.")
    authorize(rt, ctx, rule, share)
    return share


def write_metadata(rt: Runtime, ctx: RequestContext, share_id: str, values: dict, replace: bool) -> dict:
    admin_only = set(ADMIN_ONLY_METADATA)
    with rt.db.transaction() as session:
        share = _share_for(rt, ctx, session, share_id, policy.UPDATE_METADATA)
        if admin_only.intersection(values):
            if not rt.policy.check(ctx, policy.UPDATE_ADMIN_ONLY_METADATA, target(share)):
                raise Forbidden("Cannot set or update admin only metadata.")
            admin_only = set()
        existing = dict(share.metadata_ or {})
        if replace:  # keys only admins may change survive a replace by anyone else
            current = {k: v for k, v in existing.items() if k in admin_only}
        else:
            current = existing
        current.update({k: v for k, v in values.items() if k not in admin_only})
        share.metadata_ = current
        share.updated_at = utcnow()
        return dict(current)


def delete_metadata_item(rt: Runtime, ctx: RequestContext, share_id: str, key: str) -> None:
    with rt.db.transaction() as session:
        share = _share_for(rt, ctx, session, share_id, policy.DELETE_METADATA)
        if key in ADMIN_ONLY_METADATA:
            authorize(rt, ctx, policy.UPDATE_ADMIN_ONLY_METADATA, share)
        current = dict(share.metadata_ or {})
        if key not in current:
            raise NotFound("Metadata item was not found")
        del current[key]
        share.metadata_ = current
        share.updated_at = utcnow()


