"""GET /v2/shares pages in SQL (issue 9): walking the pages by marker returns every share
exactly once, in the order of the whole list, on both databases, also when many shares share
a sort value (the id breaks ties), and with_count counts all of them."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest

from sharebackup.core.context import RequestContext
from sharebackup.api.schemas.shares import ListQuery
from sharebackup.db.models import Share
from sharebackup.faults import Fault  # noqa: F401 - a schema's refusal
from tests.unit._refusals import REFUSED, status
from sharebackup.services import share_listing as service

MEMBER = RequestContext(user_id="u", project_id="demo", roles=["member", "reader"])


def _add_shares(rt, count: int) -> None:
    base = dt.datetime(2026, 1, 1)
    with rt.db.transaction() as session:
        for number in range(count):
            session.add(Share(id=str(uuid.UUID(int=number * 7919 % 1000 + 1)), user_id="u",
                              project_id="demo" if number % 5 else "other", size=1 + number % 3,
                              share_proto="NFS", status="available", display_name=f"s{number % 4}",
                              created_at=base + dt.timedelta(seconds=number // 6)))  # ties: 6 a second


def _walk(rt, **query) -> list[str]:
    seen, marker = [], None
    while True:
        page, _count = service.list_shares(rt, MEMBER, ListQuery(filters={}, limit=7, marker=marker, **query))
        seen += [share.id for share in page]
        if len(page) < 7:
            return seen
        marker = page[-1].id


@pytest.mark.parametrize("sort", [{}, {"sort_key": "created_at", "sort_dir": "asc"},
                                  {"sort_key": "size", "sort_dir": "desc"}, {"sort_key": "id", "sort_dir": "asc"}])
def test_pages_by_marker_cover_the_list_once_in_order(runtime, sort):
    rt = runtime
    _add_shares(rt, 60)
    whole, count = service.list_shares(rt, MEMBER, ListQuery(filters={}, with_count=True, **sort))
    assert count == len(whole) == 48  # demo's shares only
    assert _walk(rt, **sort) == [share.id for share in whole]


def test_offset_and_limit_apply_after_the_marker(runtime):
    rt = runtime
    _add_shares(rt, 30)
    whole, _ = service.list_shares(rt, MEMBER, ListQuery(filters={}))
    page, _ = service.list_shares(rt, MEMBER, ListQuery(filters={}, marker=whole[3].id, offset=2, limit=5))
    assert [s.id for s in page] == [s.id for s in whole[6:11]]


def test_an_unknown_marker_is_a_400(runtime):
    with pytest.raises(REFUSED) as caught:
        service.list_shares(runtime, MEMBER, ListQuery(filters={}, marker=str(uuid.uuid4())))
    assert status(caught.value) == 400 and "not found" in caught.value.message
