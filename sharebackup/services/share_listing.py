"""GET /v2/shares and /detail: Manila's filters, sorting and paging, in SQL where it can be.

Counted and paged in the database (keyset after a marker), so a page costs the page, not the
project's shares (benchmarks/share_list_benchmark.py); only a metadata or extra_specs filter,
or a marker under a nullable sort key, goes through Python.
"""
from __future__ import annotations

import ast
import json

from sqlalchemy import and_, func, or_, select

from sharebackup.core.context import RequestContext
from sharebackup.core.runtime import Runtime
from sharebackup.core.errors import Invalid
from sharebackup.db.models import Share, ShareExportLocation
from sharebackup.policies import shares as policy
from sharebackup.services.shares import caller_is_admin


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _metadata_filter(raw: str) -> dict:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            raise Invalid("Invalid metadata filter.") from None
    if not isinstance(value, dict):
        raise Invalid("Invalid metadata filter.")
    return {str(k): str(v) for k, v in value.items()}


# filters compared for equality with one column
EXACT = {"display_name": Share.display_name, "display_description": Share.display_description,
         "status": Share.status, "share_type_id": Share.share_type_id, "snapshot_id": Share.snapshot_id,
         "share_network_id": Share.share_network_id, "share_group_id": Share.share_group_id,
         "host": Share.host, "source_backup_id": Share.source_backup_id,
         "mount_point_name": Share.mount_point_name, "id": Share.id, "user_id": Share.user_id,
         "availability_zone": Share.availability_zone, "share_proto": Share.share_proto,
         "encryption_key_ref": Share.encryption_key_ref}


def list_shares(rt: Runtime, ctx: RequestContext, query) -> tuple[list[Share], int | None]:
    stmt, metadata_filter, specs_filter = _filtered(rt, ctx, query)
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
    return _page_in_python(rows, query)


def _filtered(rt: Runtime, ctx: RequestContext, query):
    """The visible, filtered shares as a statement, and the metadata and extra_specs filters
    (applied in Python: JSON columns)."""
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
    metadata_filter = specs_filter = None
    for key, value in filters.items():
        if key in EXACT:
            stmt = stmt.where(EXACT[key] == value)
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
    return stmt, metadata_filter, specs_filter


def _page_in_python(rows: list[Share], query) -> tuple[list[Share], int | None]:
    count = len(rows) if query.with_count else None
    if query.marker:
        position = next((i for i, row in enumerate(rows) if row.id == query.marker), None)
        if position is None:
            raise Invalid(f"marker [{query.marker}] not found")
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
            raise Invalid(f"marker [{query.marker}] not found")
        if descending:
            stmt = stmt.where(or_(column < found[0], and_(column == found[0], Share.id < query.marker)))
        else:
            stmt = stmt.where(or_(column > found[0], and_(column == found[0], Share.id > query.marker)))
    stmt = stmt.offset(query.offset)
    if query.limit:
        stmt = stmt.limit(query.limit)
    return list(session.scalars(stmt).unique().all()), count
