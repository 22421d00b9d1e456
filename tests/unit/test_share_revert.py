"""Revert to the latest snapshot, and shares made from (read-only) snapshot copies."""
from __future__ import annotations

import os
import stat

import pytest

from sharebackup.db.models import ShareSnapshot, ShareType, ShareTypeExtraSpec
from sharebackup.shares import local_snapshots
from tests.unit._share_helpers import ADMIN, MEMBER, Harness


@pytest.fixture
def h(tmp_path):
    harness = Harness(tmp_path / "state")
    with harness.rt.db.transaction() as session:
        st = ShareType(name="revertable", is_public=True)
        st.extra_specs = [ShareTypeExtraSpec(key="driver_handles_share_servers", value="False"),
                          ShareTypeExtraSpec(key="snapshot_support", value="True"),
                          ShareTypeExtraSpec(key="revert_to_snapshot_support", value="True")]
        session.add(st)
    yield harness
    harness.close()


def _snapshot(h, share_id, name, status="available"):
    """A snapshot row plus its read-only copy, as the snapshot API would leave them."""
    share_dir = h.rt.config.shares_path / share_id
    snap_dir = h.rt.config.snapshots_path / name
    local_snapshots.take_snapshot(share_dir, snap_dir)
    with h.rt.db.transaction() as session:
        snap = ShareSnapshot(user_id="demo", project_id="demo", share_id=share_id, size=1, share_size=1,
                             share_proto="NFS", status=status, driver_path=str(snap_dir))
        session.add(snap)
        session.flush()
        return snap.id


def _revert(h, share_id, snap_id, headers=MEMBER, version="2.91"):
    return h.client.simulate_post(f"/v2/shares/{share_id}/action", json={"revert": {"snapshot_id": snap_id}},
                                  headers={**headers, "X-OpenStack-Manila-API-Version": version})


def test_revert_restores_the_snapshot_content(h):
    share_id = h.create(share_type="revertable")
    h.wait(share_id, "available")
    share_dir = h.rt.config.shares_path / share_id
    (share_dir / "keep.txt").write_text("v1")
    (share_dir / "sub").mkdir()
    (share_dir / "sub" / "deep.txt").write_text("deep")
    snap_id = _snapshot(h, share_id, "snap1")
    (share_dir / "keep.txt").write_text("v2")
    (share_dir / "added.txt").write_text("new")
    assert _revert(h, share_id, snap_id, version="2.26").status_code == 404
    result = _revert(h, share_id, snap_id)
    assert result.status_code == 202, result.text
    h.wait(share_id, "available")
    assert (share_dir / "keep.txt").read_text() == "v1"
    assert (share_dir / "sub" / "deep.txt").read_text() == "deep"
    assert not (share_dir / "added.txt").exists()
    # the copy is not read-only (checked on the mode bits: root could write anyway)
    assert os.stat(share_dir / "keep.txt").st_mode & stat.S_IWUSR
    assert os.stat(share_dir / "sub").st_mode & stat.S_IWUSR
    with h.rt.db.reader() as session:
        assert session.get(ShareSnapshot, snap_id).status == "available"


def test_revert_refusals(h):
    plain = h.create()
    h.wait(plain, "available")
    plain_snap = _snapshot(h, plain, "plain")
    result = _revert(h, plain, plain_snap)
    assert result.status_code == 400 and "does not have that capability" in result.text
    share_id = h.create(share_type="revertable")
    h.wait(share_id, "available")
    assert _revert(h, share_id, plain_snap).status_code == 400  # another share's snapshot
    assert _revert(h, share_id, "nope").status_code == 400
    assert h.client.simulate_post(f"/v2/shares/{share_id}/action", json={"revert": {}},
                                  headers=MEMBER).status_code == 400
    older = _snapshot(h, share_id, "older")
    newer = _snapshot(h, share_id, "newer")
    result = _revert(h, share_id, older)
    assert result.status_code == 409 and newer in result.json["conflictingRequest"]["message"]
    h.action(share_id, {"reset_status": {"status": "error"}}, ADMIN)
    assert _revert(h, share_id, newer).status_code == 409
    h.action(share_id, {"reset_status": {"status": "available"}}, ADMIN)
    reader = {**MEMBER, "X-Roles": "reader"}
    assert _revert(h, share_id, newer, headers=reader).status_code == 403


def test_share_from_a_read_only_snapshot_is_writable_and_deletable(h):
    parent = h.create(share_type="revertable")
    h.wait(parent, "available")
    (h.rt.config.shares_path / parent / "d").mkdir()
    (h.rt.config.shares_path / parent / "d" / "f").write_text("x")
    snap_id = _snapshot(h, parent, "ro")
    result = h.client.simulate_post("/v2/shares", headers=MEMBER, json={"share": {
        "share_proto": "NFS", "snapshot_id": snap_id}})
    assert result.status_code == 200, result.text
    child = result.json["share"]["id"]
    h.wait(child, "available")
    child_dir = h.rt.config.shares_path / child
    for path in (child_dir, child_dir / "d", child_dir / "d" / "f"):
        assert os.stat(path).st_mode & stat.S_IWUSR, path
    (child_dir / "d" / "f").write_text("changed")
    (child_dir / "d" / "new").write_text("new")
    assert h.client.simulate_delete(f"/v2/shares/{child}", headers=MEMBER).status_code == 202
    h.wait(child, None)
    assert not child_dir.exists()
