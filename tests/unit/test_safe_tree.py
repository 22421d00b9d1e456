"""safe_tree: whole-tree copy, removal, chmod and size by directory fd, on a real filesystem."""
from __future__ import annotations

import errno
import os
import stat

import pytest

from sharebackup.engine import safe_copy, safe_fs, safe_remove, safe_tree

LONG = 250  # bytes of each name in the deep trees: 18 levels make a path of 4518 bytes > PATH_MAX


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def fds():
    """Fails the test if it leaves a file descriptor open."""
    before = open_fds()
    yield
    assert open_fds() == before


def manifest(root) -> dict:
    """Everything under root that a faithful copy keeps, by path below root; hard-link
    groups as a number per inode, so two trees compare without their inode numbers."""
    out, inodes = {}, {}
    for dirpath, dirs, files in os.walk(root):
        for name in [""] + sorted(dirs + files):
            if name == "" and dirpath != str(root):
                continue
            full = os.path.join(dirpath, name) if name else dirpath
            st = os.lstat(full)
            entry = {"type": stat.S_IFMT(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}
            if not stat.S_ISLNK(st.st_mode):
                entry["mode"] = stat.S_IMODE(st.st_mode)
                entry["xattrs"] = {k: os.getxattr(full, k) for k in sorted(os.listxattr(full)) if k.startswith("user.")}
            entry["mtime"] = st.st_mtime_ns
            if stat.S_ISREG(st.st_mode):
                entry["data"] = open(full, "rb").read()
                entry["inode"] = inodes.setdefault((st.st_dev, st.st_ino), len(inodes))
            elif stat.S_ISLNK(st.st_mode):
                entry["target"] = os.readlink(full)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                entry["rdev"] = st.st_rdev
            out[os.path.relpath(full, root)] = entry
    return out


def build_share(root):
    root.mkdir()
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"alpha")
    (root / "sub" / "b.bin").write_bytes(os.urandom(200_000))
    (root / "sub" / "deeper" / "c").write_bytes(b"gamma")
    (root / "empty").write_bytes(b"")
    os.link(root / "a.txt", root / "sub" / "a-hardlink")
    os.link(root / "a.txt", root / "sub" / "deeper" / "a-third-name")
    os.symlink("a.txt", root / "link-to-a")
    os.symlink("/nonexistent/target", root / "dangling")
    os.symlink("sub", root / "link-to-dir")
    os.mkfifo(root / "fifo", 0o620)
    os.mknod(root / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    with open(root / "sparse", "wb") as f:  # 64 MiB with two 4 KiB islands of data
        f.seek(1 << 20)
        f.write(b"x" * 4096)
        f.seek(40 << 20)
        f.write(b"y" * 4096)
        f.truncate(64 << 20)
    os.chown(root / "sub" / "b.bin", 1234, 5678)
    os.chmod(root / "sub" / "b.bin", 0o4751)  # set-uid survives in the copy (mode after owner)
    os.chmod(root / "fifo", 0o620)
    os.lchown(root / "link-to-a", 4321, 8765)
    os.chmod(root / "sub" / "deeper", 0o705)
    os.setxattr(root / "a.txt", "user.colour", b"blue")
    os.setxattr(root / "sub", "user.kind", b"\x00binary\xff")
    for path in [root / "sub" / "deeper" / "c", root / "fifo", root / "sparse"]:
        os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    os.utime(root / "link-to-a", ns=(1, 1_100_000_000_000_000_000), follow_symlinks=False)
    # directories last: their contents are done
    os.utime(root / "sub" / "deeper", ns=(2, 1_200_000_000_000_000_000))
    os.utime(root / "sub", ns=(3, 1_300_000_000_000_000_000))
    os.chmod(root, 0o751)
    os.utime(root, ns=(4, 1_400_000_000_000_000_000))
    return root


def copy(src, dst, **kwargs):
    dst.mkdir()
    src_fd, dst_fd = safe_fs.open_root(src), safe_fs.open_root(dst)
    try:
        return safe_copy.copy_tree(src_fd, dst_fd, **kwargs)
    finally:
        os.close(src_fd)
        os.close(dst_fd)


def test_copy_keeps_contents_modes_owners_times_links_holes_and_xattrs(tmp_path, fds):
    src = build_share(tmp_path / "src")
    before = manifest(src)
    summary = copy(src, tmp_path / "dst")
    dst = tmp_path / "dst"
    assert manifest(dst) == before  # the root's own mode, times and xattrs included
    assert manifest(src) == before  # and the source is as it was
    # one inode in the copy for the three names of a.txt, not the source's
    names = [dst / "a.txt", dst / "sub" / "a-hardlink", dst / "sub" / "deeper" / "a-third-name"]
    assert len({os.stat(p).st_ino for p in names}) == 1 and os.stat(names[0]).st_nlink == 3
    assert os.stat(dst / "a.txt").st_ino != os.stat(src / "a.txt").st_ino
    # holes stay holes: 8 KiB of data, not 64 MiB of zeros
    assert os.stat(dst / "sparse").st_size == 64 << 20
    assert os.stat(dst / "sparse").st_blocks * 512 <= os.stat(src / "sparse").st_blocks * 512 + (1 << 20)
    assert stat.S_IMODE(os.stat(dst / "sub" / "b.bin").st_mode) == 0o4751
    assert (summary.files, summary.dirs, summary.symlinks, summary.specials, summary.hard_links) == (5, 2, 3, 2, 2)
    assert summary.changed == [] and summary.changed_count == 0 and summary.too_deep == []


@pytest.mark.parametrize("kernel_copy", [True, False])
def test_copy_of_file_data_with_and_without_copy_file_range(tmp_path, monkeypatch, kernel_copy):
    monkeypatch.setattr(safe_copy, "COPY_FILE_RANGE", kernel_copy)
    monkeypatch.setattr(safe_copy, "COPY_CHUNK", 100_000)  # several chunks a file
    monkeypatch.setattr(safe_copy, "READ_CHUNK", 70_000)
    src = tmp_path / "src"
    src.mkdir()
    data = os.urandom(1_000_003)
    (src / "f").write_bytes(data)
    summary = copy(src, tmp_path / "dst")
    assert (tmp_path / "dst" / "f").read_bytes() == data
    assert summary.bytes == len(data)


def test_check_is_called_during_the_copy_and_stops_it(tmp_path, fds):
    src = build_share(tmp_path / "src")
    calls = []
    copy(src, tmp_path / "dst", check=lambda: calls.append(1), check_seconds=0)
    assert len(calls) >= len(manifest(src))  # at least once an entry with check_seconds=0

    class Stop(Exception):
        pass

    def stop():
        raise Stop

    with pytest.raises(Stop):
        copy(src, tmp_path / "dst2", check=stop, check_seconds=0)


def test_an_entry_swapped_for_a_symlink_while_copied_is_skipped_and_named(tmp_path, monkeypatch, fds):
    src = build_share(tmp_path / "src")
    host = tmp_path / "host"
    host.mkdir()
    (host / "c").write_bytes(b"HOST")

    def race(dir_fd, name):
        if name in (b"deeper", b"a.txt") and os.readlink(f"/proc/self/fd/{dir_fd}").startswith(str(src)):
            os.rename(name, name + b".moved", src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            os.symlink(str(host).encode() if name == b"deeper" else str(host / "c").encode(), name, dir_fd=dir_fd)

    monkeypatch.setattr(safe_fs, "race_hook", race)
    summary = copy(src, tmp_path / "dst")
    assert sorted(summary.changed) == [(b"/a.txt", "file replaced by a symlink while being copied"),
                                       (b"/sub/deeper", "directory replaced by a symlink while being copied")]
    assert summary.changed_count == 2
    assert summary.left_out().startswith("2 entries changed while being copied and were left out "
                                         "(/a.txt: file replaced by a symlink while being copied; /sub/deeper")
    assert not os.path.lexists(tmp_path / "dst" / "a.txt")
    assert not os.path.lexists(tmp_path / "dst" / "sub" / "deeper")
    assert (tmp_path / "dst" / "sub" / "b.bin").exists()


def test_directories_below_max_depth_are_reported_not_copied(tmp_path, monkeypatch, fds):
    monkeypatch.setattr(safe_fs, "MAX_DEPTH", 3)
    (tmp_path / "src" / "1" / "2" / "3" / "4" / "5").mkdir(parents=True)
    (tmp_path / "src" / "1" / "2" / "3" / "f").write_bytes(b"at the limit")
    summary = copy(tmp_path / "src", tmp_path / "dst")
    assert summary.too_deep == [b"/1/2/3/4"]
    assert (tmp_path / "dst" / "1" / "2" / "3" / "f").read_bytes() == b"at the limit"
    assert os.listdir(tmp_path / "dst" / "1" / "2" / "3") == ["f"]


def test_hard_links_beyond_the_open_fd_budget_are_copied_and_counted(tmp_path, monkeypatch, fds):
    monkeypatch.setattr(safe_copy, "LINK_FDS", 1)
    src = tmp_path / "src"
    src.mkdir()
    # in walk order: 1x, 2y, 3x, 4y: the y group starts while x still waits for its second name
    for first, second in (("1x", "3x"), ("2y", "4y")):
        (src / first).write_bytes(first.encode())
        os.link(src / first, src / second)
    summary = copy(src, tmp_path / "dst")
    dst = tmp_path / "dst"
    assert os.stat(dst / "1x").st_ino == os.stat(dst / "3x").st_ino  # the first group kept its link
    assert os.stat(dst / "2y").st_ino != os.stat(dst / "4y").st_ino  # the second could not wait
    assert (dst / "4y").read_bytes() == b"2y"
    assert (summary.hard_links, summary.links_not_kept) == (1, 1)


def test_remove_tree_removes_a_read_only_tree(tmp_path, fds):
    root = build_share(tmp_path / "tree")
    fd = safe_fs.open_root(root)
    try:
        assert safe_tree.make_read_only(fd) == 0
    finally:
        os.close(fd)
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            st = os.lstat(os.path.join(dirpath, name))
            assert stat.S_ISLNK(st.st_mode) or st.st_mode & 0o222 == 0
    os.chmod(root / "sub" / "deeper", 0o000)  # not even listable without a chmod (for non-root)
    parent = safe_fs.open_root(tmp_path)
    try:
        safe_remove.remove_tree(parent, b"tree")
        assert not os.path.lexists(root)
        safe_remove.remove_tree(parent, b"tree")  # absent is fine
    finally:
        os.close(parent)


def test_remove_tree_of_a_symlink_or_file_removes_only_the_name(tmp_path, fds):
    target = tmp_path / "target"
    target.mkdir()
    (target / "keep").write_bytes(b"keep")
    os.chmod(target, 0o555)
    os.symlink(target, tmp_path / "link")
    (tmp_path / "file").write_bytes(b"x")
    parent = safe_fs.open_root(tmp_path)
    try:
        safe_remove.remove_tree(parent, b"link")
        safe_remove.remove_tree(parent, b"file")
        with pytest.raises(ValueError):
            safe_remove.remove_tree(parent, b"..")
    finally:
        os.close(parent)
    assert not os.path.lexists(tmp_path / "link") and not os.path.lexists(tmp_path / "file")
    assert (target / "keep").read_bytes() == b"keep" and stat.S_IMODE(os.stat(target).st_mode) == 0o555


def test_remove_tree_gives_up_on_a_tenant_who_keeps_refilling(tmp_path, monkeypatch, fds):
    (tmp_path / "tree" / "d").mkdir(parents=True)
    made = []

    def refill(dir_fd, name):  # each directory we open gets a new sibling directory
        made.append(name)
        os.mkdir(b"n%d" % len(made), dir_fd=dir_fd)

    monkeypatch.setattr(safe_fs, "race_hook", refill)
    parent = safe_fs.open_root(tmp_path)
    try:
        with pytest.raises(OSError) as err:
            safe_remove.remove_tree(parent, b"tree", retries=5)
    finally:
        os.close(parent)
    assert err.value.errno == errno.ENOTEMPTY
    assert len(made) < 100  # bounded: it gave up after a few more listings


def test_tree_size_counts_regular_files_hard_links_once(tmp_path, fds):
    root = build_share(tmp_path / "tree")
    fd = safe_fs.open_root(root)
    try:
        size = safe_tree.tree_size(fd)
    finally:
        os.close(fd)
    # a.txt (3 names) 5 + b.bin 200000 + c 5 + empty 0 + sparse 64 MiB; no symlink, fifo or device
    assert size == 5 + 200_000 + 5 + (64 << 20)


def test_make_owner_writable(tmp_path, fds):
    root = build_share(tmp_path / "tree")
    os.chmod(root / "a.txt", 0o444)
    os.chmod(root / "sub", 0o500)
    fd = safe_fs.open_root(root)
    try:
        safe_tree.make_owner_writable(fd)
    finally:
        os.close(fd)
    assert stat.S_IMODE(os.stat(root / "a.txt").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(root / "sub").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(root / "sub" / "deeper").st_mode) == 0o705
    assert stat.S_IMODE(os.stat(root / "fifo").st_mode) == 0o620


# -- deeper than PATH_MAX -----------------------------------------------------------------------
def build_deep(root_fd: int, levels: int) -> None:
    """levels directories of 250-byte names, a file in each, built by fd: the path of the
    deepest is longer than PATH_MAX and could not be used."""
    fd = os.dup(root_fd)
    try:
        for level in range(levels):
            name = (b"%03d" % level) * (LONG // 3) + b"d" * (LONG % 3)
            file_fd = os.open(b"f", os.O_WRONLY | os.O_CREAT, 0o640, dir_fd=fd)
            os.write(file_fd, b"level %d" % level)
            os.close(file_fd)
            os.mkdir(name, 0o755, dir_fd=fd)
            child = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
    finally:
        os.close(fd)


def deep_manifest(root_fd: int) -> list:
    """(depth, name, mode, data) of everything below root_fd, read by fd."""
    out, fd, depth = [], os.dup(root_fd), 0
    while True:
        names = sorted(os.listdir(fd))
        sub = None
        for name in names:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            data = None
            if stat.S_ISREG(st.st_mode):
                file_fd = os.open(name, os.O_RDONLY, dir_fd=fd)
                data = os.read(file_fd, 100)
                os.close(file_fd)
            else:
                sub = name
            out.append((depth, name, st.st_mode, data))
        if sub is None:
            os.close(fd)
            return out
        child = os.open(sub, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd, depth = child, depth + 1


def test_a_tree_deeper_than_path_max_is_copied_measured_and_removed(tmp_path, fds):
    levels = 18
    assert levels * (LONG + 1) > os.pathconf("/", "PC_PATH_MAX")
    (tmp_path / "src").mkdir()
    (tmp_path / "dst").mkdir()
    parent = safe_fs.open_root(tmp_path)
    src, dst = safe_fs.open_root(tmp_path / "src"), safe_fs.open_root(tmp_path / "dst")
    try:
        build_deep(src, levels)
        summary = safe_copy.copy_tree(src, dst)
        assert (summary.dirs, summary.files, summary.too_deep) == (levels, levels, [])
        assert deep_manifest(dst) == deep_manifest(src)
        assert len(deep_manifest(dst)) == 2 * levels
        assert safe_tree.tree_size(src) == safe_tree.tree_size(dst) == sum(len(b"level %d" % i) for i in range(levels))
        for name in (b"src", b"dst"):
            safe_remove.remove_tree(parent, name)
    finally:
        for fd in (parent, src, dst):
            os.close(fd)
    assert os.listdir(tmp_path) == []


def test_remove_tree_holds_few_fds_however_deep(tmp_path, monkeypatch, fds):
    """Directories deeper than HOLD_LEVELS are moved up first instead of held open."""
    monkeypatch.setattr(safe_remove, "HOLD_LEVELS", 4)
    (tmp_path / "deep").mkdir()
    parent = safe_fs.open_root(tmp_path)
    try:
        root = safe_fs.open_dir(parent, b"deep")
        build_deep(root, 30)
        os.close(root)
        most = [0]
        monkeypatch.setattr(safe_fs, "race_hook", lambda dir_fd, name: most.__setitem__(0, max(most[0], open_fds())))
        safe_remove.remove_tree(parent, b"deep")
    finally:
        os.close(parent)
    assert os.listdir(tmp_path) == []
    assert 0 < most[0] < open_fds() + 4 + 3


def test_open_parent_makes_missing_directories_by_fd(tmp_path, fds):
    fd, name = safe_tree.open_parent(tmp_path / "a" / "b" / "c", create=True)
    try:
        assert name == b"c"
        assert os.fstat(fd).st_ino == os.stat(tmp_path / "a" / "b").st_ino
    finally:
        os.close(fd)
    with pytest.raises(FileNotFoundError):
        safe_tree.open_parent(tmp_path / "x" / "y")
