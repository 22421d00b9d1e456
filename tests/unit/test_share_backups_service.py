"""Share-backup services on both databases: request-time states, and quota that never leaks.

Usage is counted from live backup rows, so "no leak" means: after any refused create there
is no new backup row, no job, and the share's status is what it was.
"""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sharebackup.core.context import RequestContext
from sharebackup.faults import Fault  # noqa: F401 - a schema's refusal
from tests.unit._refusals import REFUSED, status
from sharebackup.api.schemas import share_backups as schema
from sharebackup.db.models import Job, Share, ShareBackup, ShareSnapshot
from sharebackup.workflows import backup_jobs
from sharebackup.services import quotas
from sharebackup.services import share_backup_requests as backup_requests
from sharebackup.services import share_backups as service


def demo(project="demo"):
    return RequestContext(user_id=project, project_id=project, roles=["member", "reader"])


def admin():
    return RequestContext.admin()


def _share(rt, project="demo", status="available", size=1, public=False, **fields) -> str:
    directory = Path(rt.config.shares_path) / os.urandom(4).hex()
    directory.mkdir(parents=True)
    with rt.db.transaction() as session:
        share = Share(user_id=project, project_id=project, size=size, share_proto="NFS", status=status,
                      driver_path=str(directory), is_public=public, availability_zone="nova", **fields)
        session.add(share)
        session.flush()
        return share.id


def _request(share_id, **options):
    return schema.create({"share_id": share_id, "name": "b", "backup_options": options or None})


def _state(rt, share_id):
    """(share status, live backups, backup jobs, backup usage of demo)."""
    with rt.db.reader() as session:
        status = session.get(Share, share_id).status
        backups = session.scalar(select(func.count()).select_from(ShareBackup).where(
            ShareBackup.deleted.is_(False)))
        jobs = session.scalar(select(func.count()).select_from(Job).where(Job.kind.like("share_backup.%")))
        used = quotas.usage(session, "demo")
    return status, backups, jobs, (used["backups"], used["backup_gigabytes"])


def _refused(rt, ctx, share_id, code, text, **options):
    before = _state(rt, share_id)
    with pytest.raises(REFUSED) as err:
        service.create(rt, ctx, _request(share_id, **options))
    assert status(err.value) == code and text in err.value.message, err.value.message
    assert _state(rt, share_id) == before


def test_create_sets_request_time_states_and_queues_the_job(runtime):
    rt = runtime
    share_id = _share(rt, size=3)
    backup = service.create(rt, demo(), _request(share_id, backup_type="default", speed="fast"))
    assert (backup.status, backup.progress, backup.restore_progress) == ("creating", "0", "0")
    assert (backup.size, backup.topic, backup.host, backup.backup_type) == (3, "manila-data", None, "default")
    assert backup.availability_zone == "nova" and backup.project_id == "demo"
    with rt.db.reader() as session:
        assert session.get(Share, share_id).status == "backup_creating"
        job = session.scalars(select(Job).where(Job.resource_id == backup.id)).one()
    assert job.kind == backup_jobs.CREATE
    assert job.payload == {"share_id": share_id, "backup_options": {"backup_type": "default"}}
    assert _state(rt, share_id)[3] == (1, 3)


def test_no_leak_on_any_refusal(runtime):
    rt = runtime
    _refused(rt, demo(), _share(rt, project="alt"), 400, "No share exists")
    _refused(rt, demo(), _share(rt, project="alt", public=True), 400, "No share exists")
    _refused(rt, demo(), _share(rt, is_soft_deleted=True), 403, "soft deleted")
    _refused(rt, demo(), _share(rt, task_state="migration_in_progress"), 409, "busy")
    _refused(rt, demo(), _share(rt, status="error"), 400, "'error' state")
    snapped = _share(rt)
    with rt.db.transaction() as session:
        session.add(ShareSnapshot(user_id="demo", project_id="demo", share_id=snapped, size=1, share_size=1,
                                  share_proto="NFS", status="available"))
    _refused(rt, demo(), snapped, 400, "while it has snapshots")
    rt.config = replace(rt.config, quota=replace(rt.config.quota, backups=1, backup_gigabytes=2))
    _refused(rt, demo(), _share(rt, size=3), 413, "ShareBackupSizeExceedsAvailableQuota")
    service.create(rt, demo(), _request(_share(rt, size=1)))
    _refused(rt, demo(), _share(rt, size=1), 413, "BackupLimitExceeded")


def test_an_error_after_the_reservation_rolls_everything_back(runtime, monkeypatch):
    rt = runtime
    share_id = _share(rt, size=2)
    before = _state(rt, share_id)

    def broken_enqueue(*args, **kwargs):
        raise Fault(400, "queue refused")

    monkeypatch.setattr(service, "enqueue", broken_enqueue)
    with pytest.raises(REFUSED):
        service.create(rt, demo(), _request(share_id))
    assert _state(rt, share_id) == before == ("available", 0, 0, (0, 0))


def test_unknown_backup_type_is_refused_before_anything(runtime):
    rt = runtime
    _refused(rt, demo(), _share(rt), 400, "Invalid backup_type 'tape'", backup_type="tape")


def _available_backup(rt, share_id, size=1):
    backup = service.create(rt, demo(), _request(share_id))
    with rt.db.transaction() as session:
        row = session.get(ShareBackup, backup.id)
        row.status, row.progress, row.restore_progress, row.size = "available", "100", "100", size
        session.get(Share, share_id).status = "available"
    return backup.id


def test_restore_resets_restore_progress_and_marks_the_target(runtime):
    rt = runtime
    source, target = _share(rt), _share(rt, size=2)
    backup_id = _available_backup(rt, source)
    assert service.restore(rt, demo(), backup_id, target) == (backup_id, target)
    with rt.db.reader() as session:
        row, share = session.get(ShareBackup, backup_id), session.get(Share, target)
        job = session.scalars(select(Job).where(Job.kind == backup_jobs.RESTORE)).one()
    assert (row.status, row.restore_progress) == ("restoring", "0")
    assert (share.status, share.source_backup_id) == ("backup_restoring", backup_id)
    assert job.resource_id == backup_id and job.payload == {"share_id": target}


def test_restore_refusals_change_nothing(runtime):
    rt = runtime
    source = _share(rt, size=2)
    backup_id = _available_backup(rt, source, size=2)
    cases = [(_share(rt, project="alt"), 404), (_share(rt, project="alt", public=True), 404),
             (_share(rt, status="error"), 400), (_share(rt, size=1), 400), ("nope", 404)]
    for target, code in cases:
        with pytest.raises(REFUSED) as err:
            service.restore(rt, demo(), backup_id, target)
        assert status(err.value) == code, (target, err.value.message)
    with pytest.raises(REFUSED) as err:
        service.restore(rt, demo("alt"), backup_id, None)
    assert status(err.value) == 404
    with rt.db.reader() as session:
        assert session.get(ShareBackup, backup_id).status == "available"
        assert session.scalar(select(func.count()).select_from(Job).where(Job.kind == backup_jobs.RESTORE)) == 0
    # an admin may restore into any project's share
    other = _share(rt, project="alt", size=2)
    assert service.restore(rt, admin(), backup_id, other) == (backup_id, other)


def test_list_sorts_progress_numerically_and_pages_by_marker(runtime):
    rt = runtime
    ids = []
    for progress in ("57", "100", "9"):
        share_id = _share(rt)
        backup = service.create(rt, demo(), _request(share_id))
        with rt.db.transaction() as session:
            session.get(ShareBackup, backup.id).progress = progress
        ids.append(backup.id)
    query = backup_requests.ListQuery(filters={}, sort_key="progress", sort_dir="asc", limit=2)
    page, more = service.list_backups(rt, demo(), query)
    assert [b.progress for b in page] == ["9", "57"] and more
    query.marker = page[-1].id
    page, more = service.list_backups(rt, demo(), query)
    assert [b.progress for b in page] == ["100"] and not more
    query = backup_requests.ListQuery(filters={}, sort_key="progress", sort_dir="desc", limit=3)
    page, more = service.list_backups(rt, demo(), query)
    assert [b.progress for b in page] == ["100", "57", "9"] and not more


def test_share_in_backup_restoring_error_is_recovered_by_share_reset_status(sqlite_runtime):
    from tests.functional.api_client import client_for
    rt = sqlite_runtime
    share_id = _share(rt, status="backup_restoring_error")
    client = client_for(rt)
    headers = {"X-Auth-Token": "admin:admin", "X-OpenStack-Manila-API-Version": "2.91"}
    result = client.simulate_post(f"/v2/shares/{share_id}/action", headers=headers,
                                  json={"reset_status": {"status": "available"}})
    assert result.status_code == 202, result.text
    assert client.simulate_get(f"/v2/shares/{share_id}", headers=headers).json["share"]["status"] == "available"


def test_concurrent_creates_one_backup_per_share_and_quota_holds(runtime):
    """Parallel creates on one share: one wins (the share row lock, then backup_creating);
    parallel creates on many shares never overshoot the backups quota."""
    from concurrent.futures import ThreadPoolExecutor
    rt = runtime
    share_id = _share(rt)

    def create(target):
        try:
            service.create(rt, demo(), _request(target))
            return 202
        except REFUSED as fault:
            return status(fault)
    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(create, [share_id] * 6))
    assert sorted(codes) == [202] + [400] * 5, codes
    rt.config = replace(rt.config, quota=replace(rt.config.quota, backups=4))
    shares = [_share(rt) for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(create, shares))
    assert sorted(codes) == [202] * 3 + [413] * 5, codes
    assert _state(rt, share_id)[1:3] == (4, 4)
