"""A tenant swaps entries of their share while the local driver copies, chmods, measures or
removes it (issue 16).

safe_fs.race_hook runs just before a listed name is opened: the window between two system
calls that a hostile tenant aims at. Each test swaps the entry there (a directory or a file)
for a symlink into a "host" directory outside the share, then checks that nothing of the
host was read (its secret is in no copy), written, chmodded, linked or removed (its
fingerprint, the sentinel's inode and link count), and that the operation ended.

The hook fires for the source tree and for the copy the driver builds; `swap` picks the
tree and the how-manieth open of the name, so each phase (copy, chmod, removal) is hit.
"""
from __future__ import annotations

import os
import stat

import pytest

from sharebackup.engine import safe_fs
from sharebackup.shares import local
from sharebackup.shares.local_snapshots import take_snapshot

SECRET = b"HOST-SECRET-issue16-local-driver"


@pytest.fixture
def host(tmp_path):
    """A host directory the tenant must never reach. Its modes have an owner bit missing
    and a group write bit set, so both a read-only and an owner-writable chmod would show."""
    path = tmp_path / "host"
    path.mkdir()
    for name in ("sentinel", "f", "g"):  # same names as the share's: a followed link lands on them
        (path / name).write_bytes(SECRET)
        (path / name).chmod(0o460)
    (path / "sub").mkdir()
    (path / "sub" / "f").write_bytes(SECRET)
    (path / "sub").chmod(0o570)
    with open(path / "big", "wb") as f:  # 64 MiB that a size walk through the link would count
        f.truncate(64 << 20)
    path.chmod(0o570)
    return path


def fingerprint(path) -> list:
    """Names, types, modes, inodes, link counts, mtimes and contents of everything under path."""
    out = []
    for dirpath, dirs, files in os.walk(path):
        for name in [""] + sorted(dirs + files):
            full = os.path.join(dirpath, name) if name else dirpath
            st = os.lstat(full)
            data = open(full, "rb").read(100) if stat.S_ISREG(st.st_mode) else None
            out.append((os.path.relpath(full, path), stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_ino,
                        st.st_nlink, st.st_mtime_ns, data))
    return out


def host_untouched(host, before) -> None:
    assert fingerprint(host) == before
    st = os.lstat(host / "sentinel")
    sentinel = next(entry for entry in before if entry[0] == "sentinel")
    assert (st.st_ino, st.st_nlink, (host / "sentinel").read_bytes()) == (sentinel[3], 1, SECRET)
    assert stat.S_IMODE(os.lstat(host).st_mode) == 0o570


def secret_in(root) -> bool:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            if stat.S_ISREG(os.lstat(full).st_mode) and SECRET in open(full, "rb").read():
                return True
    return False


def make_share(root) -> None:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "sub" / "f").write_bytes(b"tenant file")
    (root / "sub" / "deeper" / "f").write_bytes(b"deeper file")
    (root / "f").write_bytes(b"top file")
    (root / "g").write_bytes(b"x" * 300_000)


@pytest.fixture
def state(tmp_path):
    shares, snapshots = tmp_path / "state" / "shares", tmp_path / "state" / "snapshots"
    local.create(shares / "share1")
    make_share(shares / "share1")
    snapshots.mkdir(parents=True)
    return shares, snapshots


def _within(dir_fd: int, root) -> bool:
    where = os.readlink(f"/proc/self/fd/{dir_fd}")
    return where == str(root) or where.startswith(str(root) + "/")


class Swap:
    """The tenant: on the nth open of `name` below `tree`, the entry goes aside and a
    symlink to `target` takes its name; with `every`, again on every later open of it or
    of a name it was moved aside to."""

    def __init__(self, monkeypatch, tree, name: bytes, target, nth: int = 1, every: bool = False):
        self.tree, self.name, self.target, self.nth, self.every = tree, name, target, nth, every
        self.seen = 0
        self.swapped = 0
        monkeypatch.setattr(safe_fs, "race_hook", self)

    def __call__(self, dir_fd: int, name: bytes) -> None:
        ours = name == self.name or (self.every and name.startswith(self.name + b".moved"))
        if not ours or not _within(dir_fd, self.tree):
            return
        self.seen += 1
        if self.seen == self.nth or (self.every and self.seen > self.nth):
            self.swapped += 1
            os.rename(name, self.name + b".moved%d" % self.swapped, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            os.symlink(os.fsencode(str(self.target)), name, dir_fd=dir_fd)


def target_for(host, victim: bytes):
    return host / "sub" if victim == b"sub" else host / victim.decode()


VICTIMS = [b"sub", b"f", b"g"]


# -- snapshots ------------------------------------------------------------------------------
@pytest.mark.parametrize("victim", VICTIMS)
def test_snapshot_copy_never_reads_through_a_swapped_entry(monkeypatch, state, host, victim):
    shares, snapshots = state
    before = fingerprint(host)
    swap = Swap(monkeypatch, shares / "share1", victim, target_for(host, victim))
    snap = take_snapshot(shares / "share1", snapshots / "s1")
    assert swap.swapped == 1, "the hook never ran"
    assert not secret_in(snap)
    assert not os.path.lexists(snap / victim.decode())  # left out, not copied from the host
    assert (snap / "sub" / "f").exists() or victim == b"sub"
    host_untouched(host, before)


@pytest.mark.parametrize("victim", VICTIMS)
def test_snapshot_read_only_pass_never_chmods_through_a_swapped_entry(monkeypatch, state, host, victim):
    """The swap hits the copy itself, between the copy and its read-only chmod (for a
    directory the copy's own open of it is the first, the chmod pass's the second)."""
    shares, snapshots = state
    before = fingerprint(host)
    swap = Swap(monkeypatch, snapshots, victim, target_for(host, victim), nth=2 if victim == b"sub" else 1)
    snap = take_snapshot(shares / "share1", snapshots / "s1")
    assert swap.swapped == 1, "the hook never ran"
    host_untouched(host, before)
    for other in {"f", "g", "sub"} - {victim.decode()}:  # the rest of the copy was made read-only
        assert os.lstat(snap / other).st_mode & 0o222 == 0, other


def test_snapshot_copy_ends_when_the_tenant_swaps_every_time(monkeypatch, state, host):
    shares, snapshots = state
    before = fingerprint(host)
    swap = Swap(monkeypatch, shares / "share1", b"sub", host / "sub", every=True)
    snap = take_snapshot(shares / "share1", snapshots / "s1")
    assert swap.swapped >= 1
    assert not secret_in(snap)
    host_untouched(host, before)


# -- shares from snapshots, revert --------------------------------------------------------------
@pytest.fixture
def snap(state):
    shares, snapshots = state
    return take_snapshot(shares / "share1", snapshots / "s1")


@pytest.mark.parametrize("victim", VICTIMS)
def test_create_from_never_reads_through_a_swapped_entry(monkeypatch, state, snap, host, victim):
    shares, _ = state
    before = fingerprint(host)
    os.chmod(snap, 0o755)  # the test's tenant may write into this snapshot to swap
    swap = Swap(monkeypatch, snap, victim, target_for(host, victim))
    local.create_from(snap, shares / "child")
    assert swap.swapped == 1, "the hook never ran"
    assert not secret_in(shares / "child")
    assert not os.path.lexists(shares / "child" / victim.decode())
    host_untouched(host, before)


@pytest.mark.parametrize("victim", VICTIMS)
def test_create_from_owner_writable_pass_never_chmods_through_a_swapped_entry(monkeypatch, state, snap, host,
                                                                              victim):
    shares, _ = state
    before = fingerprint(host)
    swap = Swap(monkeypatch, shares / "child.partial", victim, target_for(host, victim),
                nth=2 if victim == b"sub" else 1)
    local.create_from(snap, shares / "child")
    assert swap.swapped == 1, "the hook never ran"
    host_untouched(host, before)
    assert (shares / "child" / "sub.moved1" if victim == b"sub" else shares / "child" / "sub").is_dir()


@pytest.mark.parametrize("victim", VICTIMS)
def test_revert_copy_never_reads_through_a_swapped_entry(monkeypatch, state, snap, host, victim):
    shares, _ = state
    before = fingerprint(host)
    os.chmod(snap, 0o755)
    swap = Swap(monkeypatch, snap, victim, target_for(host, victim))
    local.revert(snap, shares / "share1")
    assert swap.swapped == 1, "the hook never ran"
    assert not secret_in(shares / "share1")
    host_untouched(host, before)


@pytest.mark.parametrize("victim", [b"sub", b"deeper"])
def test_revert_never_removes_through_a_directory_swapped_in_the_share(monkeypatch, state, snap, host, victim):
    """The share's own entries are removed before the snapshot's go in: that is where the
    tenant swaps, in their live share."""
    shares, _ = state
    share = shares / "share1"
    (share / "sub" / "deeper" / "new").write_bytes(b"written after the snapshot")
    before = fingerprint(host)
    swap = Swap(monkeypatch, share, victim, host / "sub")
    local.revert(snap, share)
    assert swap.swapped == 1, "the hook never ran"
    host_untouched(host, before)
    # exactly the snapshot again: the swapped-aside directory went too
    assert sorted(os.listdir(share)) == ["f", "g", "sub"]
    assert sorted(os.listdir(share / "sub")) == ["deeper", "f"]
    assert os.listdir(share / "sub" / "deeper") == ["f"]
    assert not os.path.islink(share / "sub") and not os.path.islink(share / "sub" / "deeper")


# -- delete and size --------------------------------------------------------------------------
@pytest.mark.parametrize("victim", [b"sub", b"deeper"])
def test_delete_never_removes_or_chmods_through_a_swapped_directory(monkeypatch, state, host, victim):
    shares, _ = state
    before = fingerprint(host)
    swap = Swap(monkeypatch, shares / "share1", victim, host)
    local.delete(shares / "share1")
    assert swap.swapped == 1, "the hook never ran"
    assert not os.path.lexists(shares / "share1")
    host_untouched(host, before)


def test_delete_ends_when_the_tenant_swaps_every_time(monkeypatch, state, host):
    shares, _ = state
    before = fingerprint(host)
    # every open of sub, or of what it was moved aside to, is answered with a swap: the
    # driver gives up with an error after a bounded number of listings
    swap = Swap(monkeypatch, shares / "share1", b"sub", host, every=True)
    with pytest.raises(OSError, match="kept"):
        local.delete(shares / "share1")
    assert 1 < swap.swapped <= 200
    host_untouched(host, before)
    # once the tenant stops, the delete job's next attempt removes it all
    monkeypatch.setattr(safe_fs, "race_hook", None)
    local.delete(shares / "share1")
    assert not os.path.lexists(shares / "share1")
    host_untouched(host, before)


def test_used_bytes_never_counts_through_a_swapped_directory(monkeypatch, state, host):
    shares, _ = state
    swap = Swap(monkeypatch, shares / "share1", b"sub", host)
    used = local.used_bytes(shares / "share1")
    assert swap.swapped == 1, "the hook never ran"
    assert used == len(b"top file") + 300_000  # f and g; sub was swapped away before it was looked into


def test_delete_of_a_share_deeper_than_path_max(state):
    shares, _ = state
    share = shares / "share1"
    fd = os.open(share, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for level in range(18):  # 18 x 251 bytes: a path no path-based call can use
            name = b"%02d" % level + b"d" * 248
            os.mkdir(name, 0o555, dir_fd=fd)  # read-only on the way down too
            file_fd = os.open(b"f", os.O_WRONLY | os.O_CREAT, 0o444, dir_fd=fd)
            os.close(file_fd)
            child = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
    finally:
        os.close(fd)
    assert local.used_bytes(share) == len(b"top file") + 300_000 + len(b"tenant file") + len(b"deeper file")
    local.delete(share)
    assert not os.path.lexists(share)
