"""The local share driver: a share is a directory; its export location is that path.

New shares live at ``<shares_path>/<share id>``. Managed shares keep the directory they
were adopted from, and this driver never removes an adopted directory's files.
Every function here is filesystem-only: the database work is the caller's.
"""
from __future__ import annotations

import os
import shutil
import socket
import stat
from pathlib import Path

GIB = 1024 ** 3
BACKEND = "local"


def host_name() -> str:
    """Manila's ``host@backend#pool`` for the one pool this driver has."""
    return f"{socket.gethostname()}@{BACKEND}#{BACKEND}"


def share_dir(shares_path: Path, share_id: str) -> Path:
    return Path(shares_path) / share_id


def create(path: Path) -> None:
    """Create an empty share directory (idempotent: a retried job finds it there)."""
    path.mkdir(parents=True, exist_ok=True)


def _owner_writable(root: Path) -> None:
    """Give the owner write access again to a copy of a (read-only) snapshot."""
    for current, dirs, files in os.walk(root):
        for name in dirs + files:
            entry = os.path.join(current, name)
            st = os.lstat(entry)
            if not stat.S_ISLNK(st.st_mode):
                os.chmod(entry, stat.S_IMODE(st.st_mode) | stat.S_IWUSR | (stat.S_IXUSR if stat.S_ISDIR(
                    st.st_mode) else 0))
    os.chmod(root, stat.S_IMODE(os.lstat(root).st_mode) | stat.S_IRWXU)


def _rmtree(path: Path) -> None:
    """rmtree that also removes read-only trees (snapshot copies): every directory is made
    owner-writable (top-down, before it is listed), then the tree is removed."""
    if not path.is_symlink():
        os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) | stat.S_IRWXU)
        for current, dirs, _files in os.walk(path):
            for name in dirs:
                entry = os.path.join(current, name)
                if not os.path.islink(entry):
                    os.chmod(entry, stat.S_IMODE(os.lstat(entry).st_mode) | stat.S_IRWXU)
    shutil.rmtree(path)


def _copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, symlinks=True)
    _owner_writable(target)


def create_from(source: Path, path: Path) -> None:
    """A new share holding a writable copy of ``source`` (a snapshot's directory)."""
    source = Path(source)
    if not source.is_dir():
        raise FileNotFoundError(f"snapshot data {source} is missing")
    if path.exists():  # a previous attempt died half-way: start again
        _rmtree(path)
    tmp = path.with_name(path.name + ".partial")
    if tmp.exists():
        _rmtree(tmp)
    _copy_tree(source, tmp)
    os.replace(tmp, path)


def revert(source: Path, path: Path) -> None:
    """Make the share directory ``path`` hold exactly the snapshot ``source`` again.

    The directory itself stays (an adopted directory keeps its inode and permissions); its
    entries are replaced: a full copy is built beside it first, so a failed copy changes nothing.
    """
    source = Path(source)
    if not source.is_dir():
        raise FileNotFoundError(f"snapshot data {source} is missing")
    staging = path.with_name(path.name + ".revert")
    if staging.exists():
        _rmtree(staging)
    _copy_tree(source, staging)
    try:
        for entry in list(path.iterdir()):
            if entry.is_dir() and not entry.is_symlink():
                _rmtree(entry)
            else:
                entry.unlink()
        for entry in list(staging.iterdir()):
            os.rename(entry, path / entry.name)
    finally:
        if staging.exists():
            _rmtree(staging)


def delete(path: Path) -> None:
    """Remove a created share's directory (absent already is fine)."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        _rmtree(path)
    for suffix in (".partial", ".revert"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            _rmtree(extra)


def used_bytes(path: Path) -> int:
    """Bytes of the regular files under ``path`` (symlinks are not followed)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if not os.path.islink(os.path.join(root, name)):
                total += st.st_size
    return total


def size_gib(path: Path) -> int:
    """The size Manila reports for an adopted share: used GiB rounded up, at least 1."""
    used = used_bytes(path)
    return max(1, -(-used // GIB))


def resolve_manage_path(export_path: str, allowed_roots: list[str], forbidden: list[Path]) -> Path | None:
    """The real directory ``export_path`` names, if it lies strictly under an allowed root.

    Symlinks and ``..`` are resolved first, so neither can lead outside a root. Paths inside
    the service's own directories (``forbidden``) are never adoptable. None means refused.
    """
    if not export_path or "\x00" in export_path or not os.path.isabs(export_path):
        return None
    real = Path(os.path.realpath(export_path))
    for bad in forbidden:
        bad_real = Path(os.path.realpath(bad))
        if real == bad_real or bad_real in real.parents or real in bad_real.parents:
            return None
    for root in allowed_roots:
        if not root:
            continue
        root_real = Path(os.path.realpath(root))
        if root_real in real.parents:
            return real if real.is_dir() else None
    return None
