"""A tenant swaps entries of the share while backup or restore works on it.

safe_fs.race_hook runs just before a listed name is opened: the window between two
system calls that a hostile tenant aims at. Each test swaps the entry there for a
symlink into a "host" directory outside the share (or a hard link to a host file) and
then checks that nothing of the host was read, written, chmodded or linked, that the
engine said what changed, and that it ended.
"""

from __future__ import annotations

import os
import stat
import time

import pytest

from sharebackup import engine
from sharebackup.engine import safe_fs, safe_tree

SECRET = b"HOST-SECRET-0123456789"


@pytest.fixture
def host(tmp_path):
    """A host directory the tenant must never reach, and a fingerprint of it."""
    path = tmp_path / "host"
    path.mkdir()
    (path / "secret").write_bytes(SECRET)
    (path / "secret").chmod(0o600)
    (path / "f").write_bytes(SECRET)  # same names as the share's, so a followed link would land here
    (path / "f").chmod(0o600)
    path.chmod(0o700)
    return path


def fingerprint(path) -> list:
    """Names, types, modes, link counts, sizes and contents of everything under path."""
    out = []
    for dirpath, dirs, files in os.walk(path):
        for name in sorted(dirs + files):
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            data = open(full, "rb").read() if stat.S_ISREG(st.st_mode) else None
            out.append((os.path.relpath(full, path), stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
                        st.st_nlink, data))
    st = os.lstat(path)
    return [("", stat.S_IMODE(st.st_mode), st.st_mtime_ns)] + out


def all_file_bytes(root) -> bytes:
    data = b""
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            if stat.S_ISREG(os.lstat(full).st_mode):
                data += open(full, "rb").read()
    return data


def swap_for_symlink(dir_fd: int, name: bytes, target) -> None:
    """What a tenant does: move the entry away and put a symlink to the host in its place."""
    os.rename(name, name + b".moved", src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    os.symlink(os.fsencode(str(target)), name, dir_fd=dir_fd)


@pytest.fixture
def hook(monkeypatch):
    def install(fn):
        monkeypatch.setattr(safe_fs, "race_hook", fn)
    return install


def make_share(root) -> None:
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "f").write_bytes(b"tenant file")
    (root / "sub" / "secret").write_bytes(b"tenant's own secret")
    (root / "f").write_bytes(b"top file")
    (root / "g").write_bytes(b"x" * 300_000)  # above the small-file limit: read without read-ahead


# -- backup ------------------------------------------------------------------------------------
@pytest.mark.parametrize("victim", [b"sub", b"f", b"g"])
def test_backup_never_reads_through_an_entry_swapped_for_a_symlink(mem_repo, tmp_path, host, hook, victim):
    share = tmp_path / "share"
    make_share(share)
    before = fingerprint(host)
    swapped = []

    def race(dir_fd, name):
        if name == victim and not swapped:
            swapped.append(name)
            swap_for_symlink(dir_fd, name, host / "f" if victim != b"sub" else host)

    hook(race)
    reports = []
    snap = engine.backup(mem_repo, str(share), report=lambda *a: reports.append(a))
    assert swapped, "the hook never ran"
    assert ("/" + victim.decode(), "changed") in {(p, k) for p, k, _ in reports}
    out = tmp_path / "out"
    engine.restore(mem_repo, snap, str(out))
    assert SECRET not in all_file_bytes(out)
    # what the name held when looked at again is saved as what it is: a symlink, not its target
    assert os.path.islink(out / victim.decode())
    assert fingerprint(host) == before


def test_backup_skips_an_entry_that_keeps_changing(mem_repo, tmp_path, host, hook):
    share = tmp_path / "share"
    make_share(share)
    count = [0]

    def race(dir_fd, name):
        if name == b"sub":  # swap a fresh directory in every time the walker looks
            count[0] += 1
            os.rename(name, b"sub.%d" % count[0], src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            os.mkdir(name, dir_fd=dir_fd)

    hook(race)
    reports = []
    snap = engine.backup(mem_repo, str(share), report=lambda *a: reports.append(a))
    assert ("/sub", "changed") in {(p, k) for p, k, _ in reports}
    names = [n["name"] for n in engine.tree.decode_tree(mem_repo.load_tree(bytes.fromhex(
        mem_repo.load_snapshot(snap)["tree"])))]
    assert "sub" not in names and "f" in names


def test_backup_does_not_hang_on_a_fifo_swapped_in_for_a_file(mem_repo, tmp_path, hook):
    share = tmp_path / "share"
    make_share(share)

    def race(dir_fd, name):
        if name == b"g" and not os.path.exists(share / "g.moved"):
            os.rename(name, b"g.moved", src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            os.mkfifo(name, dir_fd=dir_fd)  # opening it for reading would block for ever

    hook(race)
    reports = []
    snap = engine.backup(mem_repo, str(share), report=lambda *a: reports.append(a))
    assert ("/g", "changed") in {(p, k) for p, k, _ in reports}
    assert snap


def test_backup_progress_total_does_not_count_the_host(mem_repo, tmp_path, host):
    share = tmp_path / "share"
    make_share(share)
    (host / "big").write_bytes(b"h" * 5_000_000)
    os.symlink(host, share / "to-host")
    fd = safe_fs.open_root(str(share))
    try:
        assert safe_tree.tree_size(fd, skip_errors=True) == sum(
            len(p.read_bytes()) for p in share.rglob("*")
            if p.is_file() and not p.is_symlink() and "to-host" not in str(p))
    finally:
        os.close(fd)


def test_backup_progress_total_leaves_out_an_unlistable_directory(tmp_path, monkeypatch):
    share = tmp_path / "share"
    (share / "locked").mkdir(parents=True)
    (share / "locked" / "f").write_bytes(b"x" * 100)
    (share / "g").write_bytes(b"y" * 10)
    real_names = safe_fs.names

    def names(dir_fd):
        if os.fstat(dir_fd).st_ino == os.stat(share / "locked").st_ino:
            raise PermissionError(13, "Permission denied")
        return real_names(dir_fd)

    monkeypatch.setattr(safe_fs, "names", names)
    fd = safe_fs.open_root(str(share))
    try:
        assert safe_tree.tree_size(fd, skip_errors=True) == 10
        with pytest.raises(PermissionError):
            safe_tree.tree_size(fd)  # the driver's size must not silently undercount
    finally:
        os.close(fd)


# -- restore -----------------------------------------------------------------------------------
def rich_snapshot(repo, tmp_path) -> str:
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "b").mkdir()
    (src / "a" / "f").write_bytes(b"restored data")
    os.link(src / "a" / "f", src / "b" / "g")  # a hard-link group across two directories
    (src / "a" / "n").write_bytes(b"n" * 10)
    os.mkfifo(src / "a" / "p")
    os.chmod(src / "a" / "p", 0o640)
    return engine.backup(repo, str(src))


def test_restore_never_writes_through_a_directory_swapped_after_mkdir(mem_repo, tmp_path, host, hook):
    snap = rich_snapshot(mem_repo, tmp_path)
    before = fingerprint(host)
    target = tmp_path / "share"

    def race(dir_fd, name):
        if name == b"a" and not (target / "a.moved").exists():
            swap_for_symlink(dir_fd, name, host)  # the restore has just made "a"

    hook(race)
    summary = engine.restore(mem_repo, snap, str(target))
    [error] = [e for e in summary["errors"] if e["path"] == "/a"]
    assert "changed during restore" in str(error), error
    assert fingerprint(host) == before
    assert os.stat(host / "f").st_nlink == 1


def test_readlink_of_an_entry_no_longer_a_symlink_is_a_change(tmp_path):
    (tmp_path / "l").write_bytes(b"now a file")
    fd = safe_fs.open_root(str(tmp_path))
    try:
        with pytest.raises(safe_fs.EntryChanged):
            safe_fs.readlink(fd, b"l")
    finally:
        os.close(fd)


def test_restore_hard_links_go_fd_to_fd_past_a_swapped_directory(mem_repo, tmp_path, host, hook):
    """The issue's finding: a directory the restore created is swapped for a symlink
    to the host before the group's later names are linked."""
    snap = rich_snapshot(mem_repo, tmp_path)
    before = fingerprint(host)
    target = tmp_path / "share"

    def race(dir_fd, name):
        if name == b"b" and not (target / "a.moved").exists():
            wait_for(lambda: (target / "a" / "f").exists())  # the first name is written
            os.rename(target / "a", target / "a.moved")
            os.symlink(host, target / "a")

    hook(race)
    summary = engine.restore(mem_repo, snap, str(target))
    assert summary["errors"] == []
    assert fingerprint(host) == before
    assert os.stat(target / "b" / "g").st_ino == os.stat(target / "a.moved" / "f").st_ino
    assert (target / "b" / "g").read_bytes() == b"restored data"


def test_restore_refuses_a_hard_link_to_a_replaced_first_name(mem_repo, tmp_path, host, hook):
    """Worse: the tenant replaces the restored first name itself with a link to a host
    file. The later name must not become a second link to it."""
    snap = rich_snapshot(mem_repo, tmp_path)
    target = tmp_path / "share"
    host_ino = os.stat(host / "secret").st_ino

    def race(dir_fd, name):
        if name == b"b" and os.stat(host / "secret").st_nlink == 1:
            wait_for(lambda: (target / "a" / "f").exists())
            os.unlink(target / "a" / "f")
            os.link(host / "secret", target / "a" / "f")  # the test's own stand-in for host access

    hook(race)
    summary = engine.restore(mem_repo, snap, str(target))
    assert os.stat(host / "secret").st_nlink == 2  # only the test's link
    assert not (target / "b" / "g").exists() or os.stat(target / "b" / "g").st_ino != host_ino
    assert any(e["path"] == "/b/g" and "replaced" in e["message"] for e in summary["errors"]), summary["errors"]


def test_restore_chmod_of_a_special_file_never_lands_on_the_host(mem_repo, tmp_path, host, hook):
    snap = rich_snapshot(mem_repo, tmp_path)
    before = fingerprint(host)
    target = tmp_path / "share"

    def race(dir_fd, name):
        if name == b"p" and not (target / "a" / "p.moved").exists():
            swap_for_symlink(dir_fd, name, host / "secret")  # after mknod, before the chmod

    hook(race)
    engine.restore(mem_repo, snap, str(target))
    assert fingerprint(host) == before


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.005)


# -- names and depth -------------------------------------------------------------------------
def test_non_utf8_names_round_trip_as_bytes_and_reports_are_readable(mem_repo, tmp_path):
    share = os.fsencode(str(tmp_path / "share"))
    os.makedirs(share + b"/d\xff/sub")
    with open(share + b"/d\xff/f\xfe", "wb") as f:
        f.write(b"bytes")
    os.symlink(b"t\xfd", share + b"/d\xff/l\xfc")
    os.mkfifo(share + b"/d\xff/fifo")
    reports = []
    snap = engine.backup(mem_repo, share.decode("utf-8", "surrogateescape"), report=lambda *a: reports.append(a),
                         options=engine.BackupOptions(special_files="skip"))
    assert reports == [("/d\\xff/fifo", "skipped", "fifo not backed up (special_files=skip)")]
    out = os.fsencode(str(tmp_path / "out"))
    engine.restore(mem_repo, snap, os.fsdecode(out))
    assert sorted(os.listdir(out + b"/d\xff")) == [b"f\xfe", b"l\xfc", b"sub"]
    assert open(out + b"/d\xff/f\xfe", "rb").read() == b"bytes"
    assert os.readlink(out + b"/d\xff/l\xfc") == b"t\xfd"


def make_deep(root_fd: int, levels: int, width: int = 250) -> bytes:
    """`levels` nested directories of `width`-byte names below root_fd, a file at the bottom;
    the path is longer than PATH_MAX, so it can only be built (and read) by fd."""
    fd = os.dup(root_fd)
    for level in range(levels):
        name = (b"%03d" % level) + b"d" * (width - 3)
        os.mkdir(name, dir_fd=fd)
        nfd = os.open(name, safe_fs.DIR_FLAGS, dir_fd=fd)
        os.close(fd)
        fd = nfd
    data = os.urandom(70_000)
    wfd = os.open(b"bottom", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(wfd, data)
    os.close(wfd)
    os.close(fd)
    return data


def read_deep(root_fd: int, levels: int) -> bytes:
    fd = os.dup(root_fd)
    for level in range(levels):
        names = os.listdir(fd)
        assert len(names) == 1 and names[0].startswith("%03d" % level)
        nfd = os.open(names[0], safe_fs.DIR_FLAGS, dir_fd=fd)
        os.close(fd)
        fd = nfd
    rfd = os.open("bottom", os.O_RDONLY, dir_fd=fd)
    try:
        return os.read(rfd, 1 << 20)
    finally:
        os.close(rfd)
        os.close(fd)


def test_a_tree_deeper_than_path_max_is_backed_up_and_restored(mem_repo, tmp_path):
    levels = 18
    assert levels * 251 > os.pathconf("/", "PC_PATH_MAX")
    (tmp_path / "share").mkdir()
    fd = os.open(tmp_path / "share", safe_fs.DIR_FLAGS)
    try:
        data = make_deep(fd, levels)
    finally:
        os.close(fd)
    reports = []
    snap = engine.backup(mem_repo, str(tmp_path / "share"), report=lambda *a: reports.append(a))
    assert reports == []
    summary = engine.restore(mem_repo, snap, str(tmp_path / "out"))
    assert summary["errors"] == []
    fd = os.open(tmp_path / "out", safe_fs.DIR_FLAGS)
    try:
        assert read_deep(fd, levels) == data
    finally:
        os.close(fd)


def test_a_tree_deeper_than_max_depth_ends_with_a_report(mem_repo, tmp_path, monkeypatch):
    monkeypatch.setattr(safe_fs, "MAX_DEPTH", 5)
    (tmp_path / "share").mkdir()
    fd = os.open(tmp_path / "share", safe_fs.DIR_FLAGS)
    try:
        make_deep(fd, 8, width=4)
    finally:
        os.close(fd)
    reports = []
    engine.backup(mem_repo, str(tmp_path / "share"), report=lambda *a: reports.append(a))
    assert [(k, m.split(";")[0]) for _p, k, m in reports] == [("error", "more than 5 directory levels deep")]


def test_many_levels_need_no_more_than_the_raised_recursion_limit(mem_repo, tmp_path):
    levels = 600  # three Python frames a level: the default limit of 1000 stops near 330
    (tmp_path / "share").mkdir()
    fd = os.open(tmp_path / "share", safe_fs.DIR_FLAGS)
    try:
        data = make_deep(fd, levels, width=4)
    finally:
        os.close(fd)
    snap = engine.backup(mem_repo, str(tmp_path / "share"))
    assert engine.restore(mem_repo, snap, str(tmp_path / "out"))["errors"] == []
    fd = os.open(tmp_path / "out", safe_fs.DIR_FLAGS)
    try:
        assert read_deep(fd, levels) == data
    finally:
        os.close(fd)


def test_deep_trees_get_the_descriptors_a_walk_by_fd_needs():
    """A walk by fd holds a descriptor per level: the usual soft limit of 1024 would stop a
    legitimate 2048-level tree with EMFILE. The soft limit is raised within the hard one."""
    import resource

    from sharebackup.engine import deep_recursion

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = safe_fs.MAX_DEPTH * deep_recursion.FDS_PER_LEVEL + deep_recursion.FDS_SPARE
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"the hard descriptor limit here ({hard}) is below what the test needs ({needed})")
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    try:
        deep_recursion.allow_deep_trees()
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= needed
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_size_walk_ticks_as_it_goes(tmp_path, monkeypatch):
    """A long size walk must show signs of life, or a job watching for stalls would give up on it."""
    monkeypatch.setattr(safe_tree, "TICK_EVERY", 10)
    for number in range(35):
        (tmp_path / f"f{number}").write_bytes(b"x")
    ticks = []
    fd = safe_fs.open_root(str(tmp_path))
    try:
        assert safe_tree.tree_size(fd, tick=lambda: ticks.append(1)) == 35
    finally:
        os.close(fd)
    assert len(ticks) == 3  # 36 events (the root's enter and 35 entries), one tick per 10
