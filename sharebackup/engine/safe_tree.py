"""Whole-tree operations on a share, by directory fd: the walk, size and chmod; copy and
removal build on it (safe_copy, safe_remove).

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

import errno
import os
import stat
from contextlib import closing
from typing import Callable, Iterator

from sharebackup.engine import safe_fs


RENAME_CLASH = (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR)

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
    check_name(name)
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


def check_name(name: bytes) -> None:
    if not name or name in (b".", b"..") or b"/" in name:
        raise ValueError(f"not one entry's name: {safe_fs.display(name)!r}")
