"""The local share driver: a share is a directory; its export location is that path.

New shares live at ``<shares_path>/<share id>``. Managed shares keep the directory they
were adopted from, and this driver never removes an adopted directory's files.
Every function here is filesystem-only: the database work is the caller's.
"""
from __future__ import annotations

import os
import shutil
import socket
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


def create_from(source: Path, path: Path) -> None:
    """A new share holding a copy of ``source`` (a snapshot's directory)."""
    source = Path(source)
    if not source.is_dir():
        raise FileNotFoundError(f"snapshot data {source} is missing")
    if path.exists():  # a previous attempt died half-way: start again
        shutil.rmtree(path)
    tmp = path.with_name(path.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(source, tmp, symlinks=True)
    os.replace(tmp, path)


def delete(path: Path) -> None:
    """Remove a created share's directory (absent already is fine)."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
    partial = path.with_name(path.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial, ignore_errors=True)


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
