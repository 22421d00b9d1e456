"""The incremental backup's metadata warmer: walk order, pacing, no symlink followed, a child
that is always reaped, and backups that are the same with it and without it."""

from __future__ import annotations

import os

import pytest

from sharebackup import engine
from sharebackup.engine import metadata_warmer
from sharebackup.engine.backup import BackupOptions
from sharebackup.engine.metadata_warmer import MetadataWarmer, warm
from sharebackup.engine.tree import decode_tree


def test_the_childs_copies_of_the_share_rules_match_safe_fs():
    """The child runs metadata_warmer.py without the package, so it keeps its own copies."""
    from sharebackup.engine import safe_fs

    assert (metadata_warmer.DIR_FLAGS, metadata_warmer.MAX_DEPTH) == (safe_fs.DIR_FLAGS, safe_fs.MAX_DEPTH)


def make_tree(root):
    for rel in ("a/b/c", "a/d", "e"):
        os.makedirs(root / rel)
    for rel in ("a/f1", "a/b/f2", "e/f3", "top"):
        (root / rel).write_bytes(b"x")


def listed_paths(monkeypatch, root) -> list[str]:
    """Record, as paths below root, every directory the warmer lists."""
    seen: list[str] = []
    real = os.listdir

    def listdir(fd="."):  # os.listdir is patched for everyone: only an fd's listing is recorded
        if isinstance(fd, int):
            seen.append(os.path.relpath(os.readlink(f"/proc/self/fd/{fd}"), root))
        return real(fd)

    monkeypatch.setattr(metadata_warmer.os, "listdir", listdir)
    return seen


def run_warm(root, ahead: int, credit: bytes, exclude=frozenset()) -> None:
    run_warm_fd(os.open(root, os.O_RDONLY | os.O_DIRECTORY), ahead, credit, exclude)


def run_warm_fd(root_fd: int, ahead: int, credit: bytes, exclude=frozenset()) -> None:
    """warm() as the child runs it: root_fd is handed over (and closed by it)."""
    read_end, write_end = os.pipe()
    os.write(write_end, credit)
    os.close(write_end)  # the walk has finished once its credit is read
    try:
        warm(root_fd, read_end, ahead, exclude)
    finally:
        os.close(read_end)


def test_it_lists_in_the_walks_order_depth_first_and_sorted(tmp_path, monkeypatch):
    make_tree(tmp_path)
    seen = listed_paths(monkeypatch, tmp_path)
    run_warm(tmp_path, ahead=100, credit=b"")
    assert seen == [".", "a", "a/b", "a/b/c", "a/d", "e"]


def test_it_lists_no_more_than_ahead_plus_the_directories_walked(tmp_path, monkeypatch):
    make_tree(tmp_path)
    seen = listed_paths(monkeypatch, tmp_path)
    run_warm(tmp_path, ahead=2, credit=b"\0")  # two ahead, then one directory walked, then the end
    assert seen == [".", "a", "a/b"]


def test_it_follows_no_symlink_and_skips_excluded_names(tmp_path, monkeypatch):
    share, outside = tmp_path / "share", tmp_path / "outside"
    make_tree(share)
    os.makedirs(outside / "secret")
    os.symlink(outside, share / "a" / "link")
    os.symlink(outside, share / "zlink")
    seen = listed_paths(monkeypatch, share)
    run_warm(share, ahead=100, credit=b"", exclude=frozenset({b"e"}))
    assert seen == [".", "a", "a/b", "a/b/c", "a/d"]


def test_a_directory_swapped_for_a_symlink_after_its_listing_is_not_entered(tmp_path, monkeypatch):
    share, outside = tmp_path / "share", tmp_path / "outside"
    make_tree(share)
    os.makedirs(outside)
    real_stat = os.stat

    def stat_then_swap(name, *args, **kwargs):  # os.stat is patched for everyone: pass others through
        st = real_stat(name, *args, **kwargs)
        if name == b"e" and kwargs.get("dir_fd") is not None:  # listed as a directory; a symlink by the time it is opened
            os.rename(share / "e", tmp_path / "moved")
            os.symlink(outside, share / "e")
        return st

    monkeypatch.setattr(metadata_warmer.os, "stat", stat_then_swap)
    seen = listed_paths(monkeypatch, share)
    run_warm(share, ahead=100, credit=b"")
    assert "e" not in seen and all(not p.startswith("..") for p in seen)


def test_the_walks_own_root_fd_keeps_its_position(tmp_path):
    """The child is handed the walk's root fd, which shares its directory position with the walk:
    listing through it moved the walk's position mid-listing, and a benchmark's incremental
    then held every top-level entry twice. The warmer opens the root anew and lists that."""
    make_tree(tmp_path)
    for i in range(200):
        (tmp_path / f"f{i:03d}").write_bytes(b"")
    root = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            where = os.lseek(root, 0, os.SEEK_END)  # a position a listing through it would reset
        except OSError:
            pytest.skip("this file system does not seek in directories")
        assert where != 0
        run_warm_fd(os.dup(root), ahead=100, credit=b"")  # a dup shares the position, as passing an fd does
        assert os.lseek(root, 0, os.SEEK_CUR) == where
    finally:
        os.close(root)


def test_an_incremental_with_a_warmer_holds_each_entry_once(repo, tmp_path):
    src = tmp_path / "src"
    for d in range(40):
        os.makedirs(src / f"d{d:02d}")
        for f in range(5):
            (src / f"d{d:02d}" / f"f{f}").write_bytes(b"%d" % f)
    options = BackupOptions(warm_metadata_from=1)
    parent = engine.backup(repo, str(src), options=options)
    for _ in range(5):
        parent = engine.backup(repo, str(src), parent=parent, options=options)
        snap = repo.load_snapshot(parent)
        names = [n["name"] for n in decode_tree(repo.load_tree(bytes.fromhex(snap["tree"])))]
        assert sorted(names) == sorted(set(names)) and len(names) == 40
        assert snap["summary"]["files_unmodified"] == 200 and snap["summary"]["dirs"] == 40


def open_pipes() -> set[str]:
    """The pipes this process holds (by inode): the warmer's pace pipe must not stay among them.
    Pipes, not a count of fds: other threads (a lease keeper's renewals) open files meanwhile."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("pipe:"):
            found.add(target)
    return found


def test_the_child_is_reaped_and_no_descriptor_is_left(tmp_path):
    make_tree(tmp_path)
    before = open_pipes()
    root = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        warmer = MetadataWarmer.start(root)
        assert warmer is not None
        assert len(open_pipes() - before) == 1  # the pace pipe's end (the child has the other)
        for _ in range(3):
            warmer.entered()
        warmer.close()
        assert warmer._proc.returncode is not None
    finally:
        os.close(root)
    assert open_pipes() - before == set()


def test_no_child_means_no_warmer_and_the_backup_goes_on(repo, tmp_path, monkeypatch):
    make_tree(tmp_path / "src")
    first = engine.backup(repo, str(tmp_path / "src"))
    monkeypatch.setattr(metadata_warmer.sys, "executable", str(tmp_path / "no-such-python"))
    root = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert MetadataWarmer.start(root) is None
    finally:
        os.close(root)
    second = engine.backup(repo, str(tmp_path / "src"), parent=first, options=BackupOptions(warm_metadata_from=1))
    assert repo.load_snapshot(second)["tree"] == repo.load_snapshot(first)["tree"]


@pytest.mark.parametrize("threshold, parent_entries_needed", [(1, True), (10_000, False), (0, False)])
def test_an_incremental_of_a_large_enough_tree_runs_a_warmer(repo, tmp_path, monkeypatch, threshold,
                                                             parent_entries_needed):
    make_tree(tmp_path / "src")
    started = []
    real_start = MetadataWarmer.start.__func__

    def spy(cls, root_fd, exclude=frozenset(), ahead=metadata_warmer.DIRS_AHEAD):
        warmer = real_start(cls, root_fd, exclude, ahead)
        started.append(warmer)
        return warmer

    monkeypatch.setattr(MetadataWarmer, "start", classmethod(spy))
    options = BackupOptions(warm_metadata_from=threshold)
    first = engine.backup(repo, str(tmp_path / "src"), options=options)
    assert started == []  # a full backup has no parent to tell how large the tree is
    (tmp_path / "src" / "a" / "b" / "f2").write_bytes(b"changed")
    second = engine.backup(repo, str(tmp_path / "src"), parent=first, options=options)
    assert len(started) == (1 if parent_entries_needed else 0)
    assert all(w._proc.returncode is not None for w in started)  # reaped when the backup ended
    out = tmp_path / "out"
    engine.restore(repo, second, str(out))
    assert (out / "a" / "b" / "f2").read_bytes() == b"changed"
    assert (out / "e" / "f3").read_bytes() == b"x"


def test_a_name_listed_twice_is_one_entry(tmp_path, monkeypatch):
    """A directory read while it changes (or through a shared position, as above) may list a
    name twice; the walk's listing holds it once."""
    from sharebackup.engine import safe_fs

    (tmp_path / "a").write_bytes(b"")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        monkeypatch.setattr(safe_fs.os, "listdir", lambda _fd: ["b", "a", "b", "\udcff"])
        assert safe_fs.names(fd) == [b"a", b"b", b"\xff"]
    finally:
        os.close(fd)
