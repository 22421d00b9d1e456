"""GET /v2/share-backups[/detail] pages in SQL: the same order on SQLite and PostgreSQL for every
sort key and direction (NULLs first ascending, last descending, id as the tiebreaker), markers
and offsets, and a query whose cost grows with the page (LIMIT in the SQL)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event

from sharebackup.faults import Fault  # noqa: F401 - a schema's refusal
from tests.unit._refusals import REFUSED, status
from sharebackup.api.schemas import share_backups as schema
from sharebackup.db.models import ShareBackup
from sharebackup.services import share_backup_requests as backup_requests
from sharebackup.services import share_backups as service
from tests.unit.test_share_backups_service import _share, demo

NAMES = ["b", "B", "a", "ä", "Zed", None, "b", "a-b", "ab", None, "_x", "10"]
PROGRESS = ["9", "57", "100", None, " 5 %", "abc", "12.5", "0", "100", "9", None, "57"]


def _reference_key(attr):
    """The order the Python implementation used (and the API keeps)."""
    def number(value):
        try:
            return float(str(value).strip().rstrip("%"))
        except (TypeError, ValueError):
            return None

    def key(row):
        value = getattr(row, attr)
        if attr in backup_requests.NUMERIC_SORT:
            value = number(value)
        return (value is not None, value if value is not None else 0), row.id
    return key


@pytest.fixture
def backups(runtime):
    rt = runtime
    share_id = _share(rt)
    base = dt.datetime(2026, 1, 1)
    with rt.db.transaction() as session:
        for number, (name, progress) in enumerate(zip(NAMES, PROGRESS)):
            session.add(ShareBackup(
                id=f"{number % 3}-{number:02d}-backup", user_id="demo", project_id="demo", share_id=share_id,
                size=number % 3, status="available" if number % 2 else "error", display_name=name,
                display_description=None if number % 4 == 0 else f"d{number % 5}", progress=progress,
                restore_progress=PROGRESS[-1 - number], host=None if number % 3 == 0 else f"h{number % 2}",
                created_at=base + dt.timedelta(seconds=number % 4), topic="manila-data"))
        session.add(ShareBackup(user_id="alt", project_id="alt", share_id=share_id, size=1, status="available",
                                display_name="other project"))
    with rt.db.reader() as session:
        rows = list(session.query(ShareBackup).filter(ShareBackup.project_id == "demo"))
    return rt, rows


def _ids(rt, **params):
    page, more = service.list_backups(rt, demo(), backup_requests.ListQuery(filters={}, **params))
    return [row.id for row in page], more


@pytest.mark.parametrize("sort_key", sorted(set(schema.SORT_KEYS.values())))
@pytest.mark.parametrize("sort_dir", ["asc", "desc"])
def test_order_matches_the_reference_on_both_databases(backups, sort_key, sort_dir):
    rt, rows = backups
    expected = [row.id for row in sorted(rows, key=_reference_key(sort_key), reverse=sort_dir == "desc")]
    assert _ids(rt, sort_key=sort_key, sort_dir=sort_dir) == (expected, False)
    # walking the pages by marker gives the same list, and "more" is right on every page
    walked, marker = [], None
    while True:
        page, more = _ids(rt, sort_key=sort_key, sort_dir=sort_dir, limit=5, marker=marker)
        walked += page
        assert more == (len(walked) < len(expected))
        if not more:
            break
        marker = page[-1]
    assert walked == expected
    # offset after a marker
    assert _ids(rt, sort_key=sort_key, sort_dir=sort_dir, marker=expected[2], offset=3, limit=4) == (
        expected[6:10], True)


def test_numeric_progress_order(backups):
    rt, rows = backups
    page, _ = service.list_backups(rt, demo(), backup_requests.ListQuery(filters={}, sort_key="progress", sort_dir="asc"))
    assert [row.progress for row in page] == [
        None, None, "abc", "0", " 5 %", "9", "9", "12.5", "57", "57", "100", "100"]


def test_filters_and_markers_outside_the_filtered_list(backups):
    rt, rows = backups
    query = backup_requests.ListQuery(filters={"status": "error", "display_name~": "B"}, sort_key="display_name", sort_dir="asc")
    page, more = service.list_backups(rt, demo(), query)
    assert [row.display_name for row in page] == ["ab", "b", "b"] and not more
    outside = next(row.id for row in rows if row.status == "available")
    for marker in (outside, "nope", "x" * 300):
        query.marker = marker
        with pytest.raises(REFUSED) as err:
            service.list_backups(rt, demo(), query)
        assert (status(err.value), err.value.message) == (400, f"marker [{marker}] not found")


def test_the_database_returns_only_the_page(backups):
    rt, rows = backups
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)
    event.listen(rt.db.read_engine, "before_cursor_execute", record)
    try:
        page, more = service.list_backups(rt, demo(), backup_requests.ListQuery(filters={}, limit=3, offset=2))
    finally:
        event.remove(rt.db.read_engine, "before_cursor_execute", record)
    assert len(page) == 3 and more
    listing = [s for s in statements if "FROM share_backups" in s]
    assert len(listing) == 1 and "LIMIT" in listing[0] and "OFFSET" in listing[0]
