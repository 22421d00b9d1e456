"""Snapshots of the local driver: a read-only, point-in-time copy of a share's directory.

The copy is taken with GNU ``cp -a --reflink=auto``: on filesystems with reflinks (XFS,
Btrfs, ...) file data is shared copy-on-write, elsewhere it is copied. ``-a`` keeps
permissions, ownership where allowed, timestamps, symlinks (as links) and hard links
within the tree. Where GNU cp is missing a Python copy with the same guarantees is used.

The copy is built under ``<snapshot_dir>.partial`` and renamed into place only when
complete, so a crash never leaves a half snapshot under the final name. Then every file
and directory loses its write bits.
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Callable

_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


class SnapshotError(RuntimeError):
    pass


class LeaseLost(SnapshotError):
    """The job's lease was lost while copying: another worker owns the job now."""


def _partial(snapshot_dir: Path) -> Path:
    return snapshot_dir.with_name(snapshot_dir.name + ".partial")


def take_snapshot(share_dir, snapshot_dir, heartbeat: Callable[[], bool] | None = None,
                  heartbeat_seconds: float = 5.0) -> Path:
    """Copy ``share_dir`` to ``snapshot_dir`` (which must not exist yet) and make it read-only."""
    source, target = Path(share_dir), Path(snapshot_dir)
    if not source.is_dir():
        raise SnapshotError(f"share directory {source} does not exist")
    partial = _partial(target)
    remove_snapshot(partial)
    remove_snapshot(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        if not _gnu_cp(source, partial, heartbeat, heartbeat_seconds):
            _python_copy(source, partial)
        _make_read_only(partial)
        os.rename(partial, target)
    except BaseException:
        remove_snapshot(partial)
        raise
    return target


def remove_snapshot(snapshot_dir) -> None:
    """Remove a snapshot directory (and any partial copy of it); missing is fine."""
    for path in (Path(snapshot_dir), _partial(Path(snapshot_dir))):
        if path.is_symlink() or path.is_file():
            path.unlink()
            continue
        if not path.exists():
            continue
        _make_writable(path)
        shutil.rmtree(path)


def _gnu_cp(source: Path, target: Path, heartbeat, every: float) -> bool:
    """True when GNU cp made the copy; False when it is not available here."""
    cp = shutil.which("cp")
    if cp is None:
        return False
    proc = subprocess.Popen([cp, "-a", "--reflink=auto", "--", str(source), str(target)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while True:
            try:
                _, err = proc.communicate(timeout=every)
                break
            except subprocess.TimeoutExpired:
                if heartbeat is not None and not heartbeat():
                    proc.kill()
                    proc.wait()
                    raise LeaseLost("lease lost while copying the share") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        text = err.decode(errors="replace")
        if "--reflink" in text and ("unrecognized" in text or "illegal" in text or "invalid" in text):
            remove_snapshot(target)
            return False  # not GNU cp (BSD/busybox): fall back to the Python copy
        raise SnapshotError(f"cp failed ({proc.returncode}): {text.strip()[:500]}")
    return True


def _python_copy(source: Path, target: Path) -> None:
    """copytree that also keeps hard links (same inode in the source -> one inode in the copy)."""
    seen: dict[tuple[int, int], str] = {}

    def copy(src, dst):
        st = os.lstat(src)
        if st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            if key in seen:
                os.link(seen[key], dst)
                return dst
            seen[key] = dst
        return shutil.copy2(src, dst)

    shutil.copytree(source, target, symlinks=True, copy_function=copy)
    for root, dirs, _files in os.walk(source):
        for name in dirs:
            src = os.path.join(root, name)
            if not os.path.islink(src):
                shutil.copystat(src, os.path.join(target, os.path.relpath(src, source)))
    shutil.copystat(source, target)


def _make_read_only(root: Path) -> None:
    # Files first, directories bottom-up, the root last: nothing needs write access afterwards.
    for current, dirs, files in os.walk(root, topdown=False):
        for name in files + dirs:
            path = os.path.join(current, name)
            st = os.lstat(path)
            if not stat.S_ISLNK(st.st_mode):
                os.chmod(path, stat.S_IMODE(st.st_mode) & ~_WRITE_BITS)
    os.chmod(root, stat.S_IMODE(os.lstat(root).st_mode) & ~_WRITE_BITS)


def _make_writable(root: Path) -> None:
    # Directories need write and search permission for their entries to be removed.
    os.chmod(root, stat.S_IMODE(os.lstat(root).st_mode) | stat.S_IRWXU)
    for current, dirs, _files in os.walk(root):
        for name in dirs:
            path = os.path.join(current, name)
            st = os.lstat(path)
            if not stat.S_ISLNK(st.st_mode):
                os.chmod(path, stat.S_IMODE(st.st_mode) | stat.S_IRWXU)

