"""Snapshots of the local driver: a read-only, point-in-time copy of a share's directory.

The copy is made by sharebackup.engine.safe_copy.copy_tree, by directory fd: the
tenant may change any name of the share while it runs, and an entry that is not what
was listed when it is opened is left out of the snapshot (and logged), never read from
wherever a swapped symlink points. File data is reflinked where the filesystem can
(XFS, Btrfs, ...), else copied by the kernel, holes of sparse files kept. Permissions,
ownership (as root), times, xattrs, symlinks (as links) and hard links within the tree
are kept.

The copy is built under ``<snapshot_dir>.partial`` and renamed into place only when
complete, so a crash never leaves a half snapshot under the final name. Then every file
and directory loses its write bits. A long copy calls the job's heartbeat about every
``heartbeat_seconds`` and stops with LeaseLost when the job's lease is gone.
"""
from __future__ import annotations

import logging
import os
from typing import Callable

from sharebackup.core.lease_keeper import LeaseLost  # the one LeaseLost of every lease
from sharebackup.engine import safe_copy, safe_fs, safe_remove, safe_tree

LOG = logging.getLogger(__name__)


class SnapshotError(RuntimeError):
    pass


def take_snapshot(share_dir, snapshot_dir, heartbeat: Callable[[], bool] | None = None,
                  heartbeat_seconds: float = 5.0):
    """Copy ``share_dir`` to ``snapshot_dir`` (replacing what is there) and make it
    read-only; returns ``snapshot_dir``."""
    try:
        src_fd = safe_fs.open_root(share_dir)
    except (FileNotFoundError, NotADirectoryError):
        raise SnapshotError(f"share directory {share_dir} does not exist") from None
    try:
        parent_fd, name = safe_tree.open_parent(snapshot_dir, create=True)
        try:
            summary = _build(src_fd, parent_fd, name, _lease_check(heartbeat), heartbeat_seconds)
        finally:
            os.close(parent_fd)
    finally:
        os.close(src_fd)
    left_out = summary.left_out()
    if left_out:
        LOG.warning("snapshot %s of %s: %s", snapshot_dir, share_dir, left_out)
    return snapshot_dir


def _build(src_fd: int, parent_fd: int, name: bytes, check, check_seconds: float) -> safe_copy.CopySummary:
    """The read-only copy of src_fd's tree as ``name`` in parent_fd, by way of ``.partial``."""
    partial = name + b".partial"
    safe_remove.remove_tree(parent_fd, partial)
    safe_remove.remove_tree(parent_fd, name)
    safe_fs.mkdir(parent_fd, partial, 0o700)
    try:
        fd = safe_fs.open_dir(parent_fd, partial)
        try:
            summary = safe_copy.copy_tree(src_fd, fd, check=check, check_seconds=check_seconds)
            # files first, directories bottom-up, the root last: nothing needs write access afterwards
            safe_tree.make_read_only(fd)
        finally:
            os.close(fd)
        safe_fs.rename(parent_fd, partial, parent_fd, name)
    except BaseException:
        safe_remove.remove_tree(parent_fd, partial)
        raise
    return summary


def _lease_check(heartbeat: Callable[[], bool] | None) -> Callable[[], None] | None:
    """copy_tree's check(): the job's heartbeat, which says False once the lease is lost."""
    if heartbeat is None:
        return None

    def check() -> None:
        if not heartbeat():
            raise LeaseLost("lease lost while copying the share")
    return check


def remove_snapshot(snapshot_dir) -> None:
    """Remove a snapshot directory (and any partial copy of it); missing is fine."""
    try:
        parent_fd, name = safe_tree.open_parent(snapshot_dir)
    except FileNotFoundError:
        return
    try:
        for entry in (name, name + b".partial"):
            safe_remove.remove_tree(parent_fd, entry)
    finally:
        os.close(parent_fd)
