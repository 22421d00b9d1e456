"""One page of a newest-first list, in SQL: after the marker by keyset (sort value, then id),
so page n costs one page whatever the table's size (the extension API's lists)."""
from __future__ import annotations

from sqlalchemy import and_, or_
from sqlalchemy.orm import Session

from sharebackup.core.errors import Invalid
from sharebackup.services.ids import bad_id


def newest_first(session: Session, stmt, sort_column, id_column, marker: str | None,
                 limit: int) -> tuple[list, bool]:
    """(rows, whether more follow). ``stmt`` selects the rows already filtered to what the
    caller may see; a marker outside them is 400, as Manila answers an unknown marker."""
    if marker:
        found = None if bad_id(marker) else \
            session.execute(stmt.with_only_columns(sort_column).where(id_column == marker)).first()
        if found is None:
            raise Invalid(f"marker [{marker}] not found")
        stmt = stmt.where(or_(sort_column < found[0], and_(sort_column == found[0], id_column < marker)))
    if limit <= 0:
        return [], False
    rows = list(session.scalars(stmt.order_by(sort_column.desc(), id_column.desc()).limit(limit + 1)))
    return rows[:limit], len(rows) > limit

