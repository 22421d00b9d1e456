"""Export locations of a share: where clients mount it. Admin-only locations are hidden from
everyone else (listed: left out; shown by id: 403)."""
from __future__ import annotations

from sharebackup.core.context import RequestContext
from sharebackup.core.runtime import Runtime
from sharebackup.core.errors import Forbidden, NotFound
from sharebackup.db.models import ShareExportLocation
from sharebackup.services.shares import authorize, caller_is_admin, visible_share


def _share_for(rt: Runtime, ctx: RequestContext, session, share_id: str, rule: str):
    """The share if the caller may see it (404 otherwise, as Manila) and passes ``rule``."""
    share = visible_share(rt, ctx, session, share_id, not_found=f"Share '{share_id}' not found.")
    authorize(rt, ctx, rule, share)
    return share


def export_locations(rt: Runtime, ctx: RequestContext, share_id: str, rule: str) -> list[ShareExportLocation]:
    with rt.db.reader() as session:
        share = _share_for(rt, ctx, session, share_id, rule)
        admin = caller_is_admin(rt, ctx)
        return [el for el in share.export_locations if admin or not el.is_admin_only]


def export_location(rt: Runtime, ctx: RequestContext, share_id: str, location_id: str,
                    rule: str) -> ShareExportLocation:
    with rt.db.reader() as session:
        share = _share_for(rt, ctx, session, share_id, rule)
        for el in share.export_locations:
            if el.id == location_id:
                if el.is_admin_only and not caller_is_admin(rt, ctx):
                    raise Forbidden()
                return el
        raise NotFound(f"Export location '{location_id}' not found.")
