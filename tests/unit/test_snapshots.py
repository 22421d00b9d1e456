"""Snapshot services and jobs on both databases, with Share rows inserted directly."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from sharebackup.core.context import RequestContext
from sharebackup.faults import Fault  # noqa: F401 - a schema's refusal
from tests.unit._refusals import REFUSED, status
from sharebackup.api.microversion import APIVersion
from sharebackup.api.schemas import snapshots as schema
from sharebackup.db.models import Job, Share, ShareSnapshot, ShareType, ShareTypeExtraSpec
from sharebackup.queue import lease_queue
from sharebackup.workflows import snapshot_jobs
from sharebackup.services import snapshots as service

V = APIVersion.parse("2.91")


def demo(project="demo"):
    return RequestContext(user_id=project, project_id=project, roles=["member", "reader"])


def admin():
    return RequestContext.admin()


def _type(rt, snapshots: bool) -> str:
    with rt.db.transaction() as session:
        share_type = ShareType(name=f"t-{snapshots}-{os.urandom(3).hex()}", is_public=True)
        share_type.extra_specs = [ShareTypeExtraSpec(key="driver_handles_share_servers", value="False"),
                                  ShareTypeExtraSpec(key="snapshot_support", value=str(snapshots))]
        session.add(share_type)
        session.flush()
        return share_type.id


def _share(rt, project="demo", status="available", snapshots=True, size=1, public=False) -> str:
    directory = Path(rt.config.shares_path) / os.urandom(4).hex()
    directory.mkdir(parents=True)
    (directory / "file").write_text("data")
    with rt.db.transaction() as session:
        share = Share(user_id=project, project_id=project, size=size, share_proto="NFS", status=status,
                      share_type_id=_type(rt, snapshots), driver_path=str(directory), is_public=public)
        session.add(share)
        session.flush()
        return share.id


def _request(share_id, name="snap"):
    return schema.create_request({"share_id": share_id, "name": name, "force": False}, V)


def _run_jobs(rt):
    """Run every queued snapshot job once, in order, as a worker would."""
    runners = snapshot_jobs.runners(rt)
    queue = lease_queue.LeaseQueue(rt.db, "test")
    while (claim := queue.claim(list(runners))) is not None:
        runners[claim.kind](claim, lambda: True)
        queue.complete(claim.id)


def _status(rt, snapshot_id):
    with rt.db.reader() as session:
        return session.get(ShareSnapshot, snapshot_id)


def test_create_then_job_makes_it_available(runtime):
    rt = runtime
    share_id = _share(rt)
    snapshot = service.create(rt, demo(), _request(share_id))
    assert snapshot.status == "creating" and snapshot.size == 1 and snapshot.progress == "0%"
    with rt.db.reader() as session:
        jobs = session.scalars(select(Job).where(Job.resource_id == snapshot.id)).all()
    assert [j.kind for j in jobs] == ["snapshot.create"]
    _run_jobs(rt)
    row = _status(rt, snapshot.id)
    assert row.status == "available" and row.progress == "100%"
    assert Path(row.driver_path) == Path(rt.config.snapshots_path) / snapshot.id
    assert (Path(row.driver_path) / "file").read_text() == "data"


def test_create_refusals(runtime):
    rt = runtime
    with pytest.raises(REFUSED) as err:
        service.create(rt, demo(), _request(_share(rt, status="error")))
    assert status(err.value) == 400 and "must be available" in err.value.message
    with pytest.raises(REFUSED) as err:
        service.create(rt, demo(), _request(_share(rt, snapshots=False)))
    assert status(err.value) == 422
    with pytest.raises(REFUSED) as err:
        service.create(rt, demo("alt"), _request(_share(rt)))
    assert status(err.value) == 404
    with pytest.raises(REFUSED) as err:  # another project's public share: visible, but not theirs
        service.create(rt, demo("alt"), _request(_share(rt, public=True)))
    assert status(err.value) == 403
    with pytest.raises(REFUSED) as err:
        service.create(rt, demo(), _request("no-such-share"))
    assert status(err.value) == 404


def test_quota_counts_snapshots_and_gigabytes(runtime):
    from dataclasses import replace
    rt = runtime
    rt.config = replace(rt.config, quota=replace(rt.config.quota, snapshots=2, snapshot_gigabytes=6))
    big = _share(rt, size=4)  # 4 + 4 > 6 GiB; then 4 + 1 fits but a third snapshot is one too many
    service.create(rt, demo(), _request(big))
    with pytest.raises(REFUSED) as err:
        service.create(rt, demo(), _request(big))
    assert status(err.value) == 413 and "SnapshotSizeExceedsAvailableQuota" in err.value.message
    small = _share(rt, size=1)
    service.create(rt, demo(), _request(small))
    with pytest.raises(REFUSED) as err:
        service.create(rt, demo(), _request(small))
    assert status(err.value) == 413 and "SnapshotLimitExceeded" in err.value.message


def test_delete_removes_copy_and_row(runtime):
    rt = runtime
    snapshot = service.create(rt, demo(), _request(_share(rt)))
    with pytest.raises(REFUSED) as err:  # still creating
        service.delete(rt, demo(), snapshot.id)
    assert status(err.value) == 400
    _run_jobs(rt)
    path = Path(_status(rt, snapshot.id).driver_path)
    service.delete(rt, demo(), snapshot.id)
    assert _status(rt, snapshot.id).status == "deleting"
    _run_jobs(rt)
    row = _status(rt, snapshot.id)
    assert row.deleted and row.status == "deleted" and not path.exists()
    with pytest.raises(REFUSED) as err:
        service.get(rt, demo(), snapshot.id)
    assert status(err.value) == 404


def test_force_delete_while_creating(runtime):
    rt = runtime
    snapshot = service.create(rt, demo(), _request(_share(rt)))
    service.delete(rt, admin(), snapshot.id, force=True)
    _run_jobs(rt)
    row = _status(rt, snapshot.id)
    assert row.deleted
    assert not (Path(rt.config.snapshots_path) / snapshot.id).exists()


def test_missing_share_directory_gives_error(runtime):
    rt = runtime
    share_id = _share(rt)
    with rt.db.transaction() as session:
        session.get(Share, share_id).driver_path = str(Path(rt.config.shares_path) / "gone")
    snapshot = service.create(rt, demo(), _request(share_id))
    _run_jobs(rt)
    assert _status(rt, snapshot.id).status == "error"


def test_give_up_marks_error(runtime):
    rt = runtime
    snapshot = service.create(rt, demo(), _request(_share(rt)))
    runners = snapshot_jobs.runners(rt)
    runners["snapshot.create"].give_up(lease_queue.Claim("j", "snapshot.create", snapshot.id, {}, 3, True), "x")
    assert _status(rt, snapshot.id).status == "error"


def test_visibility_and_update(runtime):
    rt = runtime
    snapshot = service.create(rt, demo(), _request(_share(rt)))
    with pytest.raises(REFUSED) as err:
        service.get(rt, demo("alt"), snapshot.id)
    assert status(err.value) == 404
    assert service.get(rt, admin(), snapshot.id).id == snapshot.id
    updated = service.update(rt, demo(), snapshot.id, {"display_name": "new", "display_description": "d"})
    assert (updated.display_name, updated.display_description) == ("new", "d")


def test_list_filters_sort_and_pages(runtime):
    rt = runtime
    share_id = _share(rt)
    ids = [service.create(rt, demo(), _request(share_id, name=f"n{i}")).id for i in range(3)]
    service.create(rt, demo("alt"), _request(_share(rt, project="alt"), name="other"))

    def names(params, ctx=None, is_admin=False):
        query = schema.list_query(params, V, is_admin, 1000)
        rows, total = service.list_snapshots(rt, ctx or demo(), query)
        return [r.display_name for r in rows], total

    assert names({"sort_key": "name", "sort_dir": "asc"})[0] == ["n0", "n1", "n2"]
    assert names({"sort_key": "name", "sort_dir": "desc", "limit": "2", "offset": "1"})[0] == ["n1", "n0"]
    assert names({"name": "n1"})[0] == ["n1"]
    assert names({"name~": "n", "sort_key": "name", "sort_dir": "asc", "with_count": "true",
                  "limit": "1"}) == (["n0"], 3)
    assert names({"share_id": share_id, "status": "creating"})[0].__len__() == 3
    assert names({"all_tenants": "1"})[0].__len__() == 3  # ignored for non-admins
    assert len(names({"all_tenants": "1", "sort_key": "name"}, ctx=admin(), is_admin=True)[0]) == 4
    with pytest.raises(REFUSED):
        schema.list_query({"sort_key": "nonexistent"}, V, False, 1000)
    with pytest.raises(REFUSED):
        schema.list_query({"sort_dir": "sideways"}, V, False, 1000)
    with pytest.raises(REFUSED):
        schema.list_query({"limit": "-1"}, V, False, 1000)
    assert ids
