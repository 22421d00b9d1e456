"""The local share driver: a share is a directory; its export location is that path.

New shares live at ``<shares_path>/<share id>``. Managed shares keep the directory they
were adopted from, and this driver never removes an adopted directory's files.
Every function here is filesystem-only: the database work is the caller's.

A share's contents belong to its tenant, who may change any name in it at any moment
(docs/security.md). So the contents are only ever touched by directory fd, through
sharebackup.engine.safe_tree and safe_fs: copies, removals, mode changes and sizes
never follow a name the tenant swapped for a symlink. Only the share's own directory,
or its parent in the service's state directory, is opened by its path.
"""
from __future__ import annotations

import errno
import logging
import os
import socket
import stat
from os import PathLike  # the service's own directories, as config gives them (pathlib.Path)

from sharebackup.engine import safe_copy, safe_fs, safe_remove, safe_tree

GIB = 1024 ** 3
BACKEND = "local"
LOG = logging.getLogger(__name__)
# a name in the share that the tenant took meanwhile
_CLASH = (errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.ENOTEMPTY)


def host_name() -> str:
    """Manila's ``host@backend#pool`` for the one pool this driver has."""
    return f"{socket.gethostname()}@{BACKEND}#{BACKEND}"


def share_dir(shares_path: PathLike, share_id: str) -> PathLike:
    """The directory of a new share."""
    return shares_path / share_id


def create(path: PathLike) -> None:
    """Create an empty share directory (idempotent: a retried job finds it there)."""
    parent_fd, name = safe_tree.open_parent(path, create=True)
    try:
        safe_fs.mkdir(parent_fd, name, 0o777)  # the umask applies
    except FileExistsError:
        if not stat.S_ISDIR(safe_fs.lstat(parent_fd, name).st_mode):
            raise
    finally:
        os.close(parent_fd)


def _open_source(source) -> int:
    """A snapshot's directory, to copy from; FileNotFoundError when it is gone."""
    try:
        return safe_fs.open_root(source)
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(f"snapshot data {source} is missing") from None


def _writable_copy(src_fd: int, parent_fd: int, name: bytes, what: str) -> int:
    """A new directory ``name`` in parent_fd holding a writable copy of src_fd's tree;
    returns its fd. Gone again if the copy fails."""
    safe_fs.mkdir(parent_fd, name, 0o700)
    fd = safe_fs.open_dir(parent_fd, name)
    try:
        summary = safe_copy.copy_tree(src_fd, fd)
        safe_tree.make_owner_writable(fd)
    except BaseException:
        os.close(fd)
        safe_remove.remove_tree(parent_fd, name)
        raise
    _log_changed(what, summary)
    return fd


def _log_changed(what: str, summary: safe_copy.CopySummary) -> None:
    left_out = summary.left_out()
    if left_out:
        LOG.warning("%s: %s", what, left_out)


def create_from(source: PathLike, path: PathLike) -> None:
    """A new share holding a writable copy of ``source`` (a snapshot's directory).

    Built under ``<path>.partial`` and renamed into place when complete.
    """
    src_fd = _open_source(source)
    try:
        parent_fd, name = safe_tree.open_parent(path, create=True)
        try:
            partial = name + b".partial"
            safe_remove.remove_tree(parent_fd, name)  # a previous attempt died half-way: start again
            safe_remove.remove_tree(parent_fd, partial)
            os.close(_writable_copy(src_fd, parent_fd, partial, f"share from {source}"))
            safe_fs.rename(parent_fd, partial, parent_fd, name)
        finally:
            os.close(parent_fd)
    finally:
        os.close(src_fd)


def revert(source: PathLike, path: PathLike) -> None:
    """Make the share directory ``path`` hold exactly the snapshot ``source`` again.

    The directory itself stays (an adopted directory keeps its inode and permissions); its
    entries are replaced: a full copy is built beside it first, so a failed copy changes nothing.
    """
    src_fd = _open_source(source)
    try:
        share_fd = safe_fs.open_root(path)
        try:
            parent_fd, name = safe_tree.open_parent(path)
            try:
                _revert_into(src_fd, share_fd, parent_fd, name + b".revert", f"revert of {path}")
            finally:
                os.close(parent_fd)
        finally:
            os.close(share_fd)
    finally:
        os.close(src_fd)


def _revert_into(src_fd: int, share_fd: int, parent_fd: int, staging: bytes, what: str) -> None:
    safe_remove.remove_tree(parent_fd, staging)
    staging_fd = _writable_copy(src_fd, parent_fd, staging, what)
    try:
        safe_remove.empty_dir(share_fd)
        for entry in safe_fs.names(staging_fd):
            _move_in(staging_fd, entry, share_fd)
    finally:
        os.close(staging_fd)
        safe_remove.remove_tree(parent_fd, staging)


def _move_in(staging_fd: int, entry: bytes, share_fd: int) -> None:
    """Rename one entry of the copy into the share, by both directories' fds. A tenant
    who wrote that name meanwhile loses it to the snapshot's (once; then we give up)."""
    try:
        safe_fs.rename(staging_fd, entry, share_fd, entry)
    except OSError as exc:
        if exc.errno not in _CLASH:
            raise
        safe_remove.remove_tree(share_fd, entry)
        safe_fs.rename(staging_fd, entry, share_fd, entry)


def delete(path: PathLike) -> None:
    """Remove a created share's directory (absent already is fine), and what a failed
    create or revert left beside it."""
    try:
        parent_fd, name = safe_tree.open_parent(path)
    except FileNotFoundError:
        return  # not even the parent is there
    try:
        for entry in (name, name + b".partial", name + b".revert"):
            safe_remove.remove_tree(parent_fd, entry)
    finally:
        os.close(parent_fd)


def used_bytes(path: PathLike) -> int:
    """Bytes of the regular files under ``path``, each hard-linked file once (symlinks are
    not followed); 0 when the directory is not there."""
    try:
        fd = safe_fs.open_root(path)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    try:
        return safe_tree.tree_size(fd)
    finally:
        os.close(fd)


def size_gib(path: PathLike) -> int:
    """The size Manila reports for an adopted share: used GiB rounded up, at least 1."""
    used = used_bytes(path)
    return max(1, -(-used // GIB))


def resolve_manage_path(export_path: str, allowed_roots: list[str], forbidden: list[PathLike]) -> str | None:
    """The real directory ``export_path`` names, if it lies strictly under an allowed root.

    Symlinks and ``..`` are resolved first, so neither can lead outside a root: the
    directory is opened, and its real path is the kernel's name for what was opened.
    Paths inside the service's own directories (``forbidden``) are never adoptable.
    None means refused.
    """
    if not export_path or "\x00" in export_path or not export_path.startswith("/"):
        return None
    real = _real_dir(export_path)
    if real is None:
        return None
    for bad in forbidden:
        bad_real = _resolved(bad)
        if _within(real, bad_real) or _within(bad_real, real) or real == bad_real:
            return None
    for root in allowed_roots:
        root_real = _real_dir(root) if root else None
        if root_real is not None and _within(real, root_real):
            return real
    return None


def _real_dir(path) -> str | None:
    """The absolute path, links resolved, of the directory ``path`` leads to now."""
    try:
        fd = safe_fs.open_root(path)
    except OSError:
        return None
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            return None
        return os.readlink(safe_fs.proc_path(fd))
    finally:
        os.close(fd)


def _resolved(path) -> str:
    """The real path of one of the service's own directories, which may not exist yet:
    that of its deepest existing ancestor, plus the rest."""
    rest: list[str] = []
    current = os.fspath(path).rstrip("/") or "/"
    while (real := _real_dir(current)) is None:
        parent, _, name = current.rpartition("/")
        if not name:
            return os.fspath(path)
        rest.append(name)
        current = parent or "/"
    return "/".join([real.rstrip("/")] + rest[::-1])


def _within(inner: str, outer: str) -> bool:
    """``inner`` lies strictly below ``outer`` (both absolute and resolved)."""
    return inner.startswith(outer.rstrip("/") + "/") and inner != outer
