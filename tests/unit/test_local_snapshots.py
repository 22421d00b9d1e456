"""The local driver's snapshots: a faithful, read-only, point-in-time copy."""
from __future__ import annotations

import os
import stat

import pytest

from sharebackup.engine import safe_copy
from sharebackup.shares import local_snapshots
from sharebackup.shares.local_snapshots import SnapshotError, remove_snapshot, take_snapshot


def _tree(root):
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_text("alpha")
    (root / "sub" / "b.bin").write_bytes(os.urandom(4096))
    (root / "sub" / "deeper" / "c").write_text("gamma")
    os.link(root / "a.txt", root / "sub" / "a-hardlink")
    os.symlink("a.txt", root / "link-to-a")
    os.symlink("/nonexistent/target", root / "dangling")
    os.chmod(root / "sub" / "b.bin", 0o640)
    os.utime(root / "sub" / "deeper" / "c", (1_000_000_000, 1_000_000_000))
    return root


@pytest.fixture(params=["kernel", "read_write"])
def copier(request, monkeypatch):
    """Both ways file data is copied: by the kernel (reflink or copy_file_range), or by
    pread/pwrite where the kernel cannot (no FICLONE on ext4 either)."""
    if request.param == "read_write":
        monkeypatch.setattr(safe_copy, "COPY_FILE_RANGE", False)
    return request.param


def test_copy_is_faithful_and_read_only(tmp_path, copier):
    share = _tree(tmp_path / "share")
    snap = take_snapshot(share, tmp_path / "snaps" / "s1")
    assert (snap / "a.txt").read_text() == "alpha"
    assert (snap / "sub" / "b.bin").read_bytes() == (share / "sub" / "b.bin").read_bytes()
    assert os.readlink(snap / "link-to-a") == "a.txt"
    assert os.readlink(snap / "dangling") == "/nonexistent/target"
    assert os.stat(snap / "a.txt").st_ino == os.stat(snap / "sub" / "a-hardlink").st_ino
    assert os.stat(snap / "a.txt").st_ino != os.stat(share / "a.txt").st_ino
    assert os.stat(snap / "sub" / "deeper" / "c").st_mtime == 1_000_000_000
    assert stat.S_IMODE(os.stat(snap / "sub" / "b.bin").st_mode) == 0o440
    for current, dirs, files in os.walk(snap):
        for name in dirs + files + ["."]:
            st = os.lstat(os.path.join(current, name))
            if not stat.S_ISLNK(st.st_mode):
                assert st.st_mode & 0o222 == 0, os.path.join(current, name)
    assert not (tmp_path / "snaps" / "s1.partial").exists()


def test_point_in_time(tmp_path, copier):
    share = _tree(tmp_path / "share")
    snap = take_snapshot(share, tmp_path / "s")
    (share / "a.txt").write_text("changed")
    (share / "new").write_text("new")
    assert (snap / "a.txt").read_text() == "alpha"
    assert not (snap / "new").exists()


def test_remove_snapshot_removes_read_only_tree(tmp_path, copier):
    share = _tree(tmp_path / "share")
    snap = take_snapshot(share, tmp_path / "s")
    remove_snapshot(snap)
    assert not snap.exists()
    remove_snapshot(snap)  # twice is fine
    assert (share / "a.txt").exists()


def test_missing_share_directory_is_an_error(tmp_path):
    with pytest.raises(SnapshotError):
        take_snapshot(tmp_path / "nope", tmp_path / "s")
    assert not (tmp_path / "s").exists() and not (tmp_path / "s.partial").exists()


def test_stale_partial_copy_is_replaced(tmp_path):
    share = _tree(tmp_path / "share")
    stale = tmp_path / "s.partial"
    (stale / "junk").mkdir(parents=True)
    os.chmod(stale / "junk", 0o500)
    snap = take_snapshot(share, tmp_path / "s")
    assert not (snap / "junk").exists() and not stale.exists()


def test_lost_lease_stops_the_copy(tmp_path, monkeypatch):
    share = _tree(tmp_path / "share")
    with pytest.raises(local_snapshots.LeaseLost):
        local_snapshots.take_snapshot(share, tmp_path / "s", heartbeat=lambda: False, heartbeat_seconds=0)
    assert not (tmp_path / "s").exists() and not (tmp_path / "s.partial").exists()
