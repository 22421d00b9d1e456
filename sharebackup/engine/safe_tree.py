"""Whole-tree operations on a share, by directory fd: copy, remove, chmod and size.

Built on safe_fs and bound by its rules (docs/security.md): every name is resolved as
one component below a directory fd we hold, what is opened is compared with what was
listed, and metadata lands on the verified inode. A tenant who swaps a directory or a
file for a symlink to a host path between our listing and our open makes us skip the
entry (copy, chmod, size) or unlink the link itself (remove); nothing is ever read,
written, chmodded, linked or removed through it. No path string below a tree's root is
ever resolved, so trees deeper than PATH_MAX are no problem.

`open_parent` is the one function here that takes a path: the service's own path of a
share or snapshot directory, whose entry is then renamed or removed by the parent's fd.
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
from typing import Callable, Iterator

from sharebackup.engine import safe_fs
from sharebackup.engine.file_reader import data_regions

FICLONE = 0x40049409  # ioctl: make dst share src's data blocks (reflink: XFS, Btrfs, ...)
COPY_CHUNK = 64 * 1024 * 1024  # bytes per copy_file_range call: a check() can run between two
READ_CHUNK = 1024 * 1024  # bytes per pread/pwrite when the kernel cannot copy for us
LINK_FDS = 1024  # hard-linked inodes whose first copy we keep open to link later names to
REMOVE_RETRIES = 100  # times remove_tree lists a directory again that was refilled meanwhile
HOLD_LEVELS = 128  # remove_tree: directory levels held open; deeper ones are moved up first
CHANGED_KEPT = 1000  # changed entries a CopySummary names (all are counted)
COPY_FILE_RANGE = hasattr(os, "copy_file_range")  # else (and where the kernel refuses it) pread/pwrite

_RENAME_CLASH = (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR)
_NO_CLONE_HERE = (errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EBADF)
_NO_COPY_RANGE = (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP)

# TreeWalk's events
ENTER, ENTRY, LEAVE, CHANGED, TOO_DEEP = "enter", "entry", "leave", "changed", "too_deep"


def kind_of(mode: int) -> str:
    """A file type in words, for messages."""
    for test, word in ((stat.S_ISDIR, "directory"), (stat.S_ISREG, "file"), (stat.S_ISLNK, "symlink"),
                       (stat.S_ISFIFO, "fifo"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device")):
        if test(mode):
            return word
    return "entry"


# -- walking --------------------------------------------------------------------------------
class TreeWalk:
    """Depth-first walk below root_fd by fd, without recursion.

    The events are (kind, dir_fd, name, fd, st) with kind enter (a directory opened and
    verified, announced before it is listed), entry (a non-directory), leave (fd closed
    right after), changed (a directory was something else when opened) and too_deep
    (not entered, below max_depth). It keeps only the name of each open level, not a
    path per level: a hostile tree 2048 levels of 250-byte names deep would cost half a
    gigabyte of paths; a path is joined only for a message (`rel`). A directory that
    cannot be listed or opened raises, unless skip_errors (an estimate): then it is
    left out.
    """

    def __init__(self, root_fd: int, max_depth: int | None = None, skip_errors: bool = False):
        self.root_fd = root_fd
        self.max_depth = safe_fs.MAX_DEPTH if max_depth is None else max_depth
        self.skip_errors = skip_errors
        self._levels: list[list] = []  # [fd, name, st, pending names or None]

    def rel(self, name: bytes = b"") -> bytes:
        """The path below the root of `name` in the innermost open directory."""
        parts = [level[1] for level in self._levels[1:]]
        return b"/" + b"/".join(parts + [name] if name else parts)

    def events(self) -> Iterator[tuple]:
        """The events; use it in `with closing(...)`, so the fds are closed at once
        when the consumer stops early (an exception), not whenever the generator is
        collected."""
        root_st = os.fstat(self.root_fd)
        self._levels.append([self.root_fd, b"", root_st, None])
        try:
            yield ENTER, -1, b"", self.root_fd, root_st
            self._levels[-1][3] = self._names(self.root_fd)
            while self._levels:
                level = self._levels[-1]
                name = next(level[3], None)
                if name is None:
                    yield from self._leave()
                else:
                    yield from self._step(level[0], name)
        finally:
            for level in self._levels:
                if level[0] != self.root_fd:
                    os.close(level[0])
            self._levels.clear()

    def _leave(self) -> Iterator[tuple]:
        fd, name, st, _ = self._levels.pop()
        parent = self._levels[-1][0] if self._levels else -1
        try:
            yield LEAVE, parent, name, fd, st
        finally:
            if fd != self.root_fd:
                os.close(fd)

    def _step(self, dir_fd: int, name: bytes) -> Iterator[tuple]:
        try:
            st = safe_fs.lstat(dir_fd, name)
        except FileNotFoundError:
            return  # gone since the listing: nothing to do
        except OSError:
            if self.skip_errors:
                return
            raise
        if not stat.S_ISDIR(st.st_mode):
            yield ENTRY, dir_fd, name, -1, st
            return
        if len(self._levels) > self.max_depth:
            yield TOO_DEEP, dir_fd, name, -1, st
            return
        try:
            child = safe_fs.open_dir(dir_fd, name, st)
        except safe_fs.EntryChanged:
            yield CHANGED, dir_fd, name, -1, st
            return
        except FileNotFoundError:
            return
        except OSError:
            if self.skip_errors:
                return
            raise
        self._levels.append([child, name, st, None])
        yield ENTER, dir_fd, name, child, st
        # listed only now: the consumer may have made the directory readable meanwhile
        self._levels[-1][3] = self._names(child)

    def _names(self, fd: int) -> Iterator[bytes]:
        try:
            return iter(safe_fs.names(fd))
        except OSError:
            if not self.skip_errors:
                raise
            return iter(())


def what_changed(dir_fd: int, name: bytes, listed: os.stat_result) -> str:
    """What the name holds now, compared with what was listed, in words."""
    was = kind_of(listed.st_mode)
    try:
        now = safe_fs.lstat(dir_fd, name)
    except FileNotFoundError:
        return f"{was} removed while being copied"
    except OSError:
        return f"{was} changed while being copied"
    if stat.S_IFMT(now.st_mode) == stat.S_IFMT(listed.st_mode):
        return f"{was} replaced by another {was} while being copied"
    return f"{was} replaced by a {kind_of(now.st_mode)} while being copied"


# -- size and modes ------------------------------------------------------------------------
TICK_EVERY = 1024  # entries between two tree_size ticks


def tree_size(dir_fd: int, skip_errors: bool = False, tick: Callable[[], None] | None = None) -> int:
    """Bytes of the regular files below dir_fd (st_size), each hard-linked inode once.

    Symlinks are not followed and a directory swapped for anything else while we look
    is not counted; nor is anything below safe_fs.MAX_DEPTH levels. skip_errors: an
    estimate (backup progress's total) that leaves out what cannot be read. tick is
    called every TICK_EVERY entries: a sign of life during a long walk.
    """
    total = 0
    seen: set[tuple[int, int]] = set()
    with closing(TreeWalk(dir_fd, skip_errors=skip_errors).events()) as events:
        for number, (kind, _dir_fd, _name, _fd, st) in enumerate(events, 1):
            if tick is not None and number % TICK_EVERY == 0:
                tick()
            if kind != ENTRY or not stat.S_ISREG(st.st_mode):
                continue
            if st.st_nlink > 1:
                key = (st.st_dev, st.st_ino)
                if key in seen:
                    continue
                seen.add(key)
            total += st.st_size
    return total


def chmod_tree(dir_fd: int, mode_of: Callable[[os.stat_result], int], bottom_up: bool = False) -> int:
    """Set every mode below dir_fd, dir_fd's own included, to mode_of(its stat).

    Directories get fchmod on the fd we opened, before they are listed (top-down) or
    after their entries (bottom_up); other entries a chmod of their verified inode.
    Symlinks have no mode of their own and are left alone. Returns how many entries
    changed between listing and chmod and were skipped.
    """
    skipped = 0
    with closing(TreeWalk(dir_fd).events()) as events:
        for kind, parent, name, fd, st in events:
            if (kind == ENTER and not bottom_up) or (kind == LEAVE and bottom_up):
                os.fchmod(fd, mode_of(os.fstat(fd)))
            elif kind == ENTRY and not stat.S_ISLNK(st.st_mode):
                try:
                    safe_fs.chmod_at(parent, name, mode_of, expect=st)
                except safe_fs.EntryChanged:
                    skipped += 1
                except FileNotFoundError:
                    pass
            elif kind in (CHANGED, TOO_DEEP):
                skipped += 1
    return skipped


_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


def make_read_only(dir_fd: int) -> int:
    """Clear every write bit below dir_fd and on it; bottom-up, so no directory needs
    write access after it is done."""
    return chmod_tree(dir_fd, lambda st: stat.S_IMODE(st.st_mode) & ~_WRITE_BITS, bottom_up=True)


def make_owner_writable(dir_fd: int) -> int:
    """Give the owner write access again (and search access to directories): what a
    share made from a read-only snapshot copy needs."""
    def mode(st: os.stat_result) -> int:
        extra = stat.S_IRWXU if stat.S_ISDIR(st.st_mode) else stat.S_IWUSR
        return stat.S_IMODE(st.st_mode) | extra
    return chmod_tree(dir_fd, mode)


# -- removing -------------------------------------------------------------------------------
def remove_tree(dir_fd: int, name: bytes, retries: int = REMOVE_RETRIES) -> None:
    """Remove the entry `name` below dir_fd and all under it; absent already is fine.

    Each directory is opened (verified), made owner-writable by fchmod and only then
    listed, so read-only snapshot copies go too. A directory swapped for a symlink is
    unlinked as what it is now, a link; nothing is ever followed. A tenant who keeps
    refilling directories makes us list them again at most `retries` times in all,
    then OSError(ENOTEMPTY). At most HOLD_LEVELS directories are open at once: deeper
    ones are first moved up into the directory being removed, so any depth goes.
    """
    _check_name(name)
    budget = [retries]
    for _ in range(retries + 1):
        try:
            st = safe_fs.lstat(dir_fd, name)
        except FileNotFoundError:
            return
        if not stat.S_ISDIR(st.st_mode):
            _unlink(dir_fd, name)
            continue  # look again: the tenant may have put something new there
        try:
            fd = _open_writable(dir_fd, name, st)
        except (safe_fs.EntryChanged, FileNotFoundError):
            continue
        try:
            _empty(fd, budget)
        finally:
            os.close(fd)
        if _rmdir(dir_fd, name):
            return
    raise OSError(errno.ENOTEMPTY, f"{safe_fs.display(name)} kept changing while being removed")


def empty_dir(dir_fd: int, retries: int = REMOVE_RETRIES) -> None:
    """Remove everything below the directory we hold, as remove_tree does, and keep the
    directory itself (its mode is left alone); listed again until it is empty."""
    _empty(dir_fd, [retries])


def _check_name(name: bytes) -> None:
    if not name or name in (b".", b"..") or b"/" in name:
        raise ValueError(f"not one entry's name: {safe_fs.display(name)!r}")


def _open_writable(dir_fd: int, name: bytes, st: os.stat_result) -> int:
    """The listed directory, opened and made owner-writable so it can be emptied."""
    fd = safe_fs.open_dir(dir_fd, name, st)
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & stat.S_IRWXU != stat.S_IRWXU:
            os.fchmod(fd, mode | stat.S_IRWXU)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _unlink(dir_fd: int, name: bytes) -> None:
    try:
        safe_fs.unlink(dir_fd, name)
    except (FileNotFoundError, IsADirectoryError):
        pass  # gone, or a directory now: the next listing finds it


def _rmdir(dir_fd: int, name: bytes) -> bool:
    """True when the name is gone; False when it holds something (else) again."""
    try:
        safe_fs.rmdir(dir_fd, name)
    except FileNotFoundError:
        return True
    except OSError as exc:
        if exc.errno in _RENAME_CLASH:
            return False
        raise
    return True


def _empty(root_fd: int, budget: list[int]) -> None:
    """Remove everything below the (owner-writable) directory root_fd, iteratively."""
    levels = [[root_fd, b"", iter(safe_fs.names(root_fd))]]  # [fd, name in parent, pending]
    moved = [0]
    try:
        while levels:
            fd, _, pending = levels[-1]
            name = next(pending, None)
            if name is None:
                _finish_level(levels, root_fd, budget)
                continue
            try:
                st = safe_fs.lstat(fd, name)
            except FileNotFoundError:
                continue
            if not stat.S_ISDIR(st.st_mode):
                _unlink(fd, name)
            elif len(levels) >= max(2, HOLD_LEVELS):  # (moving the root's own children up is no move)
                _move_up(fd, name, root_fd, moved)
                budget[0] += 1  # the root's next listing finds it: that is ours, not the tenant's
            else:
                try:
                    child = _open_writable(fd, name, st)
                except (safe_fs.EntryChanged, FileNotFoundError):
                    continue  # the directory's next listing shows what the name holds now
                levels.append([child, name, None])
                levels[-1][2] = iter(safe_fs.names(child))
    finally:
        for level in levels:
            if level[0] != root_fd:
                os.close(level[0])


def _finish_level(levels: list[list], root_fd: int, budget: list[int]) -> None:
    """The innermost directory's listing is done: list it again if it was refilled,
    else close it and remove it from its parent."""
    fd, name, _ = levels[-1]
    left = safe_fs.names(fd)
    if left:
        budget[0] -= 1
        if budget[0] < 0:
            raise OSError(errno.ENOTEMPTY, "a directory kept being refilled while being removed")
        levels[-1][2] = iter(left)
        return
    levels.pop()
    if fd != root_fd:
        os.close(fd)
        _rmdir(levels[-1][0], name)  # if it holds something again, the parent's next listing says so


def _move_up(dir_fd: int, name: bytes, root_fd: int, moved: list[int]) -> None:
    """Move a directory too deep to hold open up into the root being removed: renameat
    by our two fds, so neither side is a path."""
    for _ in range(100):
        moved[0] += 1
        try:
            safe_fs.rename(dir_fd, name, root_fd, b".sharebackup-deep-%d" % moved[0])
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno not in _RENAME_CLASH:
                raise
    raise OSError(errno.EEXIST, "no free name to move a deep directory to")


# -- copying --------------------------------------------------------------------------------
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


# -- the service's own directories ------------------------------------------------------------
def open_parent(path, create: bool = False) -> tuple[int, bytes]:
    """(fd of the directory holding `path`, the last name of `path`).

    For paths the service chose (a share or snapshot directory in its state directory,
    or an adopted share's directory): the parent is opened by path with
    safe_fs.open_root; the entry itself is then only handled by that fd. With `create`,
    missing parent directories are made, one by one, by fd.
    """
    raw = os.fsencode(path)
    parent, name = _split(raw)
    _check_name(name)
    return (_open_creating(parent) if create else safe_fs.open_root(parent)), name


def _split(raw: bytes) -> tuple[bytes, bytes]:
    raw = raw.rstrip(b"/") or b"/"
    if b"/" not in raw:
        return b".", raw
    parent, _, name = raw.rpartition(b"/")
    return parent or b"/", name


def _open_creating(path: bytes) -> int:
    """open_root(path), making the missing directories from the deepest existing one."""
    missing = []
    while True:
        try:
            fd = safe_fs.open_root(path)
            break
        except FileNotFoundError:
            parent, name = _split(path)
            if parent == path or name in (b"", b".", b".."):
                raise
            missing.append(name)
            path = parent
    try:
        for name in reversed(missing):
            try:
                safe_fs.mkdir(fd, name, 0o777)  # the umask applies, as with mkdir -p
            except FileExistsError:
                pass  # made by a concurrent job meanwhile
            child = safe_fs.open_dir(fd, name)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd
