"""Requests that race each other through the API, with real workers running the jobs.

Whatever the interleaving: every answer is Manila's (a 4xx fault or the success code), no
share or backup is left in a transitional state once the jobs drain, and the quota usage is
exactly what the rows say.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from sharebackup.db.models import Share, ShareBackup
from tests.unit._share_helpers import ADMIN, MEMBER, Harness

BACKUPS = "/v2/share-backups"
TRANSITIONAL = {"creating", "deleting", "extending", "shrinking", "backup_creating", "backup_restoring",
                "restoring", "reverting", "manage_starting", "unmanage_starting"}


@pytest.fixture
def harness(tmp_path):
    # a backup job waits a second before it reads the share, so the racing requests meet it running
    h = Harness(tmp_path / "state", enable_test_hooks=True, backup_create_delay=1.0)
    yield h
    h.close()


def _share_with_files(h: Harness) -> str:
    share_id = h.create()
    h.wait(share_id, "available")
    root = h.rt.config.shares_path / share_id
    for i in range(20):
        (root / f"f{i}").write_bytes(bytes([i]) * 50_000)
    return share_id


def _backup(h: Harness, share_id: str) -> tuple[int, str | None]:
    result = h.client.simulate_post(BACKUPS, headers=MEMBER, json={"share_backup": {"share_id": share_id}})
    return result.status_code, (result.json.get("share_backup") or {}).get("id") if result.status_code == 202 else None


def _drained(h: Harness, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with h.rt.db.reader() as session:
            busy = session.scalars(select(Share.status).where(Share.deleted.is_(False))).all() + \
                session.scalars(select(ShareBackup.status).where(ShareBackup.deleted.is_(False))).all()
        if not TRANSITIONAL & set(busy):
            return
        assert time.monotonic() < deadline, f"still transitional after {timeout} s: {busy}"
        time.sleep(0.05)


def _usage_matches_rows(h: Harness) -> None:
    result = h.client.simulate_get("/v2/quota-sets/demo/detail", headers=ADMIN)
    usage = {k: v["in_use"] for k, v in result.json["quota_set"].items() if isinstance(v, dict)}
    with h.rt.db.reader() as session:
        shares = session.scalar(select(func.count()).select_from(Share).where(Share.deleted.is_(False),
                                                                               Share.project_id == "demo"))
        backups = session.scalar(select(func.count()).select_from(ShareBackup).where(
            ShareBackup.deleted.is_(False), ShareBackup.project_id == "demo"))
    assert (usage["shares"], usage["backups"]) == (shares, backups)


def _all_at_once(calls) -> list:
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_twenty_parallel_backup_creates_on_one_share(harness):
    share_id = _share_with_files(harness)
    answers = _all_at_once([lambda: _backup(harness, share_id)] * 20)
    codes = sorted(code for code, _ in answers)
    assert codes == [202] + [400] * 19, codes
    _drained(harness)
    listed = harness.client.simulate_get(f"{BACKUPS}/detail", headers=MEMBER).json["share_backups"]
    assert [b["status"] for b in listed] == ["available"]
    assert harness.share(share_id).json["share"]["status"] == "available"
    _usage_matches_rows(harness)


def test_share_delete_racing_a_backup(harness):
    share_id = _share_with_files(harness)
    answers = _all_at_once([lambda: _backup(harness, share_id),
                            lambda: (harness.client.simulate_delete(f"/v2/shares/{share_id}",
                                                                    headers=MEMBER).status_code, None)])
    assert all(code in (202, 400, 403) for code, _ in answers), answers
    _drained(harness)
    _usage_matches_rows(harness)


def test_restore_and_delete_of_one_backup_race(harness):
    share_id = _share_with_files(harness)
    code, backup_id = _backup(harness, share_id)
    assert code == 202
    _drained(harness)
    restore = lambda: (harness.client.simulate_post(  # noqa: E731
        f"{BACKUPS}/{backup_id}/action", headers=MEMBER, json={"restore": None}).status_code, None)
    delete = lambda: (harness.client.simulate_delete(f"{BACKUPS}/{backup_id}", headers=MEMBER).status_code, None)  # noqa: E731
    answers = _all_at_once([restore, delete, restore, delete])
    codes = [code for code, _ in answers]
    assert all(code in (202, 400, 404) for code in codes), codes
    assert codes.count(202) >= 1
    _drained(harness)
    assert harness.share(share_id).json["share"]["status"] == "available"
    _usage_matches_rows(harness)


def test_delete_racing_the_create_of_a_share(harness):
    created = {}

    def create():
        created["id"] = harness.create()
        return 200

    def delete():
        for _ in range(200):
            if "id" in created:
                return harness.client.simulate_delete(f"/v2/shares/{created['id']}", headers=MEMBER).status_code
            time.sleep(0.001)
        return None
    codes = _all_at_once([create, delete])
    assert codes[0] == 200 and codes[1] in (202, 400, 403), codes
    _drained(harness)
    _usage_matches_rows(harness)
