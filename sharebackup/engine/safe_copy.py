"""Copying a share's tree by directory fd (docs/security.md): contents (reflink, kernel copy
or read/write; holes kept), modes, owners, times, hard links and xattrs.

An entry swapped between listing and open is skipped and counted in the CopySummary
(what_changed says how); nothing is read through a tenant's symlink.
"""

from __future__ import annotations

import base64
import errno
import fcntl
import os
import stat
import time
from contextlib import closing
from dataclasses import dataclass, field
from typing import Callable

from sharebackup.engine import safe_fs
from sharebackup.engine.file_reader import data_regions
from sharebackup.engine.safe_tree import CHANGED, ENTER, ENTRY, LEAVE, TOO_DEEP, TreeWalk, kind_of, what_changed

FICLONE = 0x40049409  # ioctl: make dst share src's data blocks (reflink: XFS, Btrfs, ...)
COPY_CHUNK = 64 * 1024 * 1024  # bytes per copy_file_range call: a check() can run between two
READ_CHUNK = 1024 * 1024  # bytes per pread/pwrite when the kernel cannot copy for us
LINK_FDS = 1024  # hard-linked inodes whose first copy we keep open to link later names to
CHANGED_KEPT = 1000  # changed entries a CopySummary names (all are counted)
COPY_FILE_RANGE = hasattr(os, "copy_file_range")  # else (and where the kernel refuses it) pread/pwrite

_NO_CLONE_HERE = (errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EBADF)
_NO_COPY_RANGE = (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP)


@dataclass
class CopySummary:
    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    specials: int = 0  # fifos, sockets, devices
    hard_links: int = 0  # names linked to an inode copied already
    links_not_kept: int = 0  # hard-linked names copied without their links (LINK_FDS inodes were waiting)
    bytes: int = 0  # data bytes in the copy (cloned or copied)
    xattr_errors: int = 0  # attributes the destination refused
    changed_count: int = 0
    changed: list[tuple[bytes, str]] = field(default_factory=list)  # (path below the root, what)
    too_deep: list[bytes] = field(default_factory=list)  # directories below MAX_DEPTH, not copied

    def note_changed(self, rel: bytes, what: str) -> None:
        self.changed_count += 1
        if len(self.changed) < CHANGED_KEPT:
            self.changed.append((rel, what))

    def left_out(self, shown: int = 20) -> str | None:
        """What the copy lacks, in one line for a log (None: nothing)."""
        if not self.changed_count and not self.too_deep:
            return None
        named = "; ".join(f"{safe_fs.display(rel)}: {what}" for rel, what in self.changed[:shown])
        return (f"{self.changed_count} entries changed while being copied and were left out ({named}); "
                f"{len(self.too_deep)} directories deeper than {safe_fs.MAX_DEPTH} levels were not copied")


class _Clock:
    """Calls check() when `every` seconds have passed since it last did."""

    def __init__(self, check: Callable[[], None] | None, every: float):
        self.check, self.every = check, every
        self.last = time.monotonic()

    def tick(self) -> None:
        if self.check is not None and time.monotonic() - self.last >= self.every:
            self.last = time.monotonic()
            self.check()


def copy_tree(src_fd: int, dst_fd: int, check: Callable[[], None] | None = None, check_seconds: float = 1.0,
              owner: bool | None = None) -> CopySummary:
    """Copy the contents of the directory src_fd into the empty directory dst_fd, and
    src_fd's own mode, owner, times and xattrs onto dst_fd.

    Regular files (reflinked where the filesystem can, else copied in the kernel, holes
    of sparse files kept), directories, symlinks as links, fifos, sockets and devices;
    one inode in the copy per hard-linked inode of the source; mode, owner (`owner`,
    by default when we are root), atime and mtime (directories' after their contents),
    xattrs. An entry that is not what was listed when we open it is skipped and
    reported in the summary, never read from where it leads now. check() is called
    about every check_seconds, between entries and between chunks of a large file;
    it stops the copy by raising.
    """
    summary = CopySummary()
    copier = _Copier(summary, os.geteuid() == 0 if owner is None else owner, _Clock(check, check_seconds))
    walk = TreeWalk(src_fd)
    dst = [dst_fd]  # the copy's directory for each open level of the walk
    try:
        with closing(walk.events()) as events:
            for event in events:
                copier.clock.tick()
                _copy_event(copier, walk, dst, event)
    finally:
        for fd in dst[1:]:
            os.close(fd)
        copier.close()
    return summary


def _copy_event(copier: _Copier, walk: TreeWalk, dst: list[int], event: tuple) -> None:
    kind, dir_fd, name, fd, st = event
    if kind == ENTER and dir_fd != -1:
        dst.append(copier.make_dir(dst[-1], name))
    elif kind == LEAVE:
        copier.finish_dir(dst[-1], fd, st)
        if len(dst) > 1:
            os.close(dst.pop())
    elif kind == ENTRY:
        copier.copy_entry(dir_fd, name, st, dst[-1], walk)
    elif kind == CHANGED:
        copier.summary.note_changed(walk.rel(name), what_changed(dir_fd, name, st))
    elif kind == TOO_DEEP:
        copier.summary.too_deep.append(walk.rel(name))


class _Copier:
    """The per-entry work of copy_tree."""

    def __init__(self, summary: CopySummary, owner: bool, clock: _Clock):
        self.summary, self.owner, self.clock = summary, owner, clock
        self.links: dict[tuple[int, int], list[int]] = {}  # (dev, ino) -> [fd of the copy, names to come]
        self.clone = True  # False once the filesystem refused a reflink: it will refuse every one
        self.copy_range = COPY_FILE_RANGE  # False once the kernel refused it here

    def close(self) -> None:
        for fd, _ in self.links.values():
            os.close(fd)
        self.links.clear()

    # directories
    def make_dir(self, parent_fd: int, name: bytes) -> int:
        safe_fs.mkdir(parent_fd, name, 0o700)
        self.summary.dirs += 1
        return safe_fs.open_dir(parent_fd, name)

    def finish_dir(self, out_fd: int, src_fd: int, st: os.stat_result) -> None:
        """Metadata of a directory, after its contents (their creation changed its mtime)."""
        self._fd_metadata(out_fd, st, safe_fs.xattrs(src_fd))

    # everything else
    def copy_entry(self, dir_fd: int, name: bytes, st: os.stat_result, out_dir: int, walk: TreeWalk) -> None:
        try:
            if stat.S_ISREG(st.st_mode):
                self._file(dir_fd, name, st, out_dir)
            elif stat.S_ISLNK(st.st_mode):
                self._symlink(dir_fd, name, st, out_dir)
            else:
                self._special(dir_fd, name, st, out_dir)
        except safe_fs.EntryChanged:
            self.summary.note_changed(walk.rel(name), what_changed(dir_fd, name, st))
        except FileNotFoundError as exc:
            if exc.filename is not None and exc.filename != name:
                raise
            self.summary.note_changed(walk.rel(name), f"{kind_of(st.st_mode)} removed while being copied")

    def _file(self, dir_fd: int, name: bytes, st: os.stat_result, out_dir: int) -> None:
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in self.links:
            self._link(key, out_dir, name)
            return
        src = safe_fs.open_file(dir_fd, name, st)
        try:
            src_st = os.fstat(src)
            out = safe_fs.create_file(out_dir, name, 0o600)
            try:
                self.summary.bytes += self._data(src, out, src_st)
                self._fd_metadata(out, src_st, safe_fs.xattrs(src))
            except BaseException:
                os.close(out)
                raise
        finally:
            os.close(src)
        self.summary.files += 1
        if st.st_nlink > 1 and len(self.links) < LINK_FDS:
            self.links[key] = [out, st.st_nlink - 1]
            return
        if st.st_nlink > 1:
            self.summary.links_not_kept += 1
        os.close(out)

    def _link(self, key: tuple[int, int], out_dir: int, name: bytes) -> None:
        """A later name of an inode copied already: a link to our copy (by its fd), so
        nothing of the source is opened, whatever its name leads to now."""
        entry = self.links[key]
        safe_fs.link_inode(entry[0], out_dir, name)
        self.summary.hard_links += 1
        entry[1] -= 1
        if entry[1] <= 0:
            os.close(entry[0])
            del self.links[key]

    def _symlink(self, dir_fd: int, name: bytes, st: os.stat_result, out_dir: int) -> None:
        try:
            target = safe_fs.readlink(dir_fd, name)
        except OSError as exc:
            if exc.errno == errno.EINVAL:  # not a symlink any more
                raise safe_fs.EntryChanged(name) from None
            raise
        safe_fs.symlink(target, out_dir, name)
        self.summary.symlinks += 1
        self._name_metadata(dir_fd, name, st, out_dir, mode=False)

    def _special(self, dir_fd: int, name: bytes, st: os.stat_result, out_dir: int) -> None:
        # nothing is opened: a fifo or a device is made anew from the listed stat
        safe_fs.mknod(out_dir, name, stat.S_IFMT(st.st_mode) | 0o600, st.st_rdev)
        self.summary.specials += 1
        self._name_metadata(dir_fd, name, st, out_dir, mode=True)

    # data
    def _data(self, src: int, out: int, st: os.stat_result) -> int:
        """Copy the file's data; returns the bytes in the copy."""
        if self.clone:
            try:
                fcntl.ioctl(out, FICLONE, src)
                return os.fstat(out).st_size
            except OSError as exc:
                if exc.errno not in _NO_CLONE_HERE:
                    raise
                self.clone = False
        regions = data_regions(src, st)
        copied = end = 0
        for start, stop in regions:
            end = self._range(src, out, start, stop)
            copied += end - start
        if regions != [(0, None)]:
            os.ftruncate(out, max(st.st_size, end))  # the holes after the last data
        return copied

    def _range(self, src: int, out: int, start: int, stop: int | None) -> int:
        """Copy [start, stop) (stop None: to the end of file); returns where it ended."""
        pos = start
        while stop is None or pos < stop:
            want = COPY_CHUNK if stop is None else min(COPY_CHUNK, stop - pos)
            n = self._chunk(src, out, pos, want)
            if n == 0:
                break  # end of file (it may have shrunk since we looked)
            pos += n
            self.clock.tick()
        return pos

    def _chunk(self, src: int, out: int, pos: int, want: int) -> int:
        if self.copy_range:
            try:
                return os.copy_file_range(src, out, want, pos, pos)
            except OSError as exc:
                if exc.errno not in _NO_COPY_RANGE:
                    raise
                self.copy_range = False
        done = 0
        while done < want:
            data = os.pread(src, min(READ_CHUNK, want - done), pos + done)
            if not data:
                break
            os.pwrite(out, data, pos + done)
            done += len(data)
        return done

    # metadata
    def _fd_metadata(self, fd: int, st: os.stat_result, xattrs: dict[str, str]) -> None:
        """Owner, xattrs, mode, times on a file or directory we hold; the mode after the
        owner, since chown clears set-id bits."""
        if self.owner:
            os.fchown(fd, st.st_uid, st.st_gid)
        for key, value in xattrs.items():
            try:
                os.setxattr(fd, key, base64.b64decode(value))
            except OSError:
                self.summary.xattr_errors += 1
        os.fchmod(fd, stat.S_IMODE(st.st_mode))
        os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))

    def _name_metadata(self, dir_fd: int, name: bytes, st: os.stat_result, out_dir: int, mode: bool) -> None:
        """The same for an entry made anew in the copy (symlink, fifo, device), by name
        in our own directory without following; xattrs read from the source entry itself."""
        if self.owner:
            safe_fs.chown_at(out_dir, name, st.st_uid, st.st_gid)
        for key, value in safe_fs.xattrs_at(dir_fd, name).items():
            try:
                safe_fs.setxattr_at(out_dir, name, key, base64.b64decode(value))
            except OSError:
                self.summary.xattr_errors += 1
        if mode:
            safe_fs.chmod_at(out_dir, name, lambda _st: stat.S_IMODE(st.st_mode))
        safe_fs.utime_at(out_dir, name, st.st_mtime_ns)
