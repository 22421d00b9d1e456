"""Removing a share's tree by directory fd (docs/security.md).

A directory swapped for a symlink is unlinked as what it is now, a link; nothing is ever
followed. Each directory is made owner-writable by fchmod before it is listed, so the
read-only snapshot copies go too. Any depth: at most HOLD_LEVELS directories are held
open, deeper ones are first moved up into the directory being removed.
"""

from __future__ import annotations

import errno
import os
import stat

from sharebackup.engine import safe_fs
from sharebackup.engine.safe_tree import RENAME_CLASH, check_name

REMOVE_RETRIES = 100  # times remove_tree lists a directory again that was refilled meanwhile
HOLD_LEVELS = 128  # remove_tree: directory levels held open; deeper ones are moved up first


def remove_tree(dir_fd: int, name: bytes, retries: int = REMOVE_RETRIES) -> None:
    """Remove the entry `name` below dir_fd and all under it; absent already is fine.

    Each directory is opened (verified), made owner-writable by fchmod and only then
    listed, so read-only snapshot copies go too. A directory swapped for a symlink is
    unlinked as what it is now, a link; nothing is ever followed. A tenant who keeps
    refilling directories makes us list them again at most `retries` times in all,
    then OSError(ENOTEMPTY). At most HOLD_LEVELS directories are open at once: deeper
    ones are first moved up into the directory being removed, so any depth goes.
    """
    check_name(name)
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
        if exc.errno in RENAME_CLASH:
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
            if exc.errno not in RENAME_CLASH:
                raise
    raise OSError(errno.EEXIST, "no free name to move a deep directory to")
