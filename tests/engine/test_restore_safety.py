"""Restore never writes outside its target: crafted names and planted symlinks."""

import os

import pytest

from sharebackup import engine

from .helpers import craft_snapshot


@pytest.fixture
def outside(tmp_path):
    path = tmp_path / "outside"
    path.mkdir()
    (path / "keep").write_bytes(b"untouched")
    return path


def listing(path):
    return sorted((os.path.relpath(os.path.join(d, f), path), open(os.path.join(d, f), "rb").read())
                  for d, _dirs, files in os.walk(path) for f in files)


@pytest.mark.parametrize("evil", ["..", ".", "", "../outside/evil", "/ABS/evil", "sub/evil", "nul\x00byte"])
def test_crafted_names_are_refused(mem_repo, tmp_path, outside, evil):
    evil = evil.replace("/ABS", str(outside))
    snap = craft_snapshot(mem_repo, [
        {"name": "ok", "type": "file", "mode": 0o644, "data": b"fine"},
        {"name": evil, "type": "file", "mode": 0o644, "data": b"evil"},
    ])
    before = listing(outside)
    target = tmp_path / "target"
    with pytest.raises(engine.UnsafePathError):
        engine.restore(mem_repo, snap, str(target))
    assert listing(outside) == before
    assert not any(b"evil" == data for _p, data in listing(tmp_path))


def test_crafted_name_in_a_subdirectory_is_refused(mem_repo, tmp_path, outside):
    snap = craft_snapshot(mem_repo, [
        {"name": "d", "type": "dir", "children": [{"name": "../../outside/x", "type": "file", "mode": 0o644, "data": b"evil"}]},
    ])
    with pytest.raises(engine.UnsafePathError):
        engine.restore(mem_repo, snap, str(tmp_path / "target"))
    assert listing(outside) == [("keep", b"untouched")]


@pytest.mark.parametrize("mode", ["merge", "replace"])
def test_symlink_planted_where_a_directory_goes_is_not_followed(mem_repo, tmp_path, outside, mode):
    snap = craft_snapshot(mem_repo, [
        {"name": "sub", "type": "dir", "children": [{"name": "f", "type": "file", "mode": 0o644, "data": b"payload"}]},
    ])
    target = tmp_path / "target"
    target.mkdir()
    os.symlink(outside, target / "sub")
    summary = engine.restore(mem_repo, snap, str(target), mode=mode)
    assert listing(outside) == [("keep", b"untouched")]
    if mode == "merge":
        assert [e["path"] for e in summary["errors"]] == ["/sub"]
        assert os.path.islink(target / "sub")
    else:
        assert summary["errors"] == []
        assert not os.path.islink(target / "sub")
        assert (target / "sub" / "f").read_bytes() == b"payload"


def test_symlink_planted_where_a_file_goes_is_replaced_not_written_through(mem_repo, tmp_path, outside):
    snap = craft_snapshot(mem_repo, [{"name": "keep", "type": "file", "mode": 0o644, "data": b"from backup"}])
    target = tmp_path / "target"
    target.mkdir()
    os.symlink(outside / "keep", target / "keep")
    summary = engine.restore(mem_repo, snap, str(target))
    assert summary["errors"] == []
    assert (outside / "keep").read_bytes() == b"untouched"
    assert not os.path.islink(target / "keep")
    assert (target / "keep").read_bytes() == b"from backup"


def test_restored_symlinks_are_not_followed_by_later_entries(mem_repo, tmp_path, outside):
    # a snapshot whose symlink points outside is restored as a link, and nothing is written through it
    snap = craft_snapshot(mem_repo, [
        {"name": "a-link", "type": "symlink", "mode": 0o777, "target": str(outside)},
        {"name": "b", "type": "dir", "children": [{"name": "f", "type": "file", "mode": 0o644, "data": b"x"}]},
    ])
    engine.restore(mem_repo, snap, str(tmp_path / "target"))
    assert os.readlink(tmp_path / "target" / "a-link") == str(outside)
    assert listing(outside) == [("keep", b"untouched")]


def test_a_hostile_tree_comes_back_exactly_and_nothing_lands_outside(repo, tmp_path, outside):
    """Issue 10: absolute and escaping symlinks, hard links, a device file, a FIFO, names with a
    newline and with bytes that are not UTF-8: the restore writes them as they were, inside the
    target only (the links are recreated, never followed)."""
    import stat

    from .helpers import snapshot_of_tree
    src = tmp_path / "src"
    (src / "dir").mkdir(parents=True)
    os.symlink("/etc/passwd", src / "absolute-link")
    os.symlink("../../outside/keep", src / "dir" / "escaping-link")
    os.symlink("../outside", src / "escaping-dir-link")
    (src / "dir" / "file").write_bytes(b"data")
    os.link(src / "dir" / "file", src / "hard-link")
    os.mkfifo(src / "fifo")
    with open(os.fsencode(src) + b"/line\nbreak \xff name", "wb") as f:
        f.write(b"odd name")
    has_device = os.geteuid() == 0
    if has_device:
        os.mknod(src / "null-device", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    snap = engine.backup(repo, str(src))
    before = listing(outside)
    target = tmp_path / "target"
    summary = engine.restore(repo, snap, str(target))
    assert summary["errors"] == []
    assert snapshot_of_tree(str(target)) == snapshot_of_tree(str(src))
    assert listing(outside) == before  # the escaping links were made, not followed
    assert os.readlink(target / "absolute-link") == "/etc/passwd"
    assert os.stat(target / "hard-link").st_ino == os.stat(target / "dir" / "file").st_ino
    if has_device:
        assert stat.S_ISCHR(os.lstat(target / "null-device").st_mode)
    # and a merge over a target that already holds those links writes through none of them
    summary = engine.restore(repo, snap, str(target), mode="merge")
    assert summary["errors"] == [] and listing(outside) == before
