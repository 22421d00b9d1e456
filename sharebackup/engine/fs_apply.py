"""Applying recorded metadata to restored entries, relative to a directory fd.

Every call works on (dir_fd, name) or an fd of our own, never on a path that could
cross a symlink. Ownership is restored only when running as root (an ordinary user
cannot give files away); mode is set after chown because chown clears set-id bits.
"""

from __future__ import annotations

import base64
import os

IS_ROOT = os.geteuid() == 0


def apply_to_fd(fd: int, node: dict, report, rel: str) -> None:
    """Metadata for a regular file or directory we hold open (times last)."""
    if IS_ROOT:
        try:
            os.fchown(fd, node["uid"], node["gid"])
        except OSError as exc:
            report(rel, "error", f"cannot restore owner: {exc.strerror}")
    for name, value in node.get("xattrs", {}).items():
        try:
            os.setxattr(fd, name, base64.b64decode(value))
        except OSError as exc:
            report(rel, "error", f"cannot restore xattr {name}: {exc.strerror}")
    os.fchmod(fd, node["mode"])
    os.utime(fd, ns=(node["mtime_ns"], node["mtime_ns"]))


def apply_to_link(dir_fd: int, name: str, node: dict, report, rel: str) -> None:
    """Metadata for a symlink, fifo or device node, by name without following."""
    if IS_ROOT:
        try:
            os.chown(name, node["uid"], node["gid"], dir_fd=dir_fd, follow_symlinks=False)
        except OSError as exc:
            report(rel, "error", f"cannot restore owner: {exc.strerror}")
    if node["type"] != "symlink":
        os.chmod(name, node["mode"], dir_fd=dir_fd)
        for xname, value in node.get("xattrs", {}).items():
            try:
                # /proc/self/fd/N is the directory itself; `name` is not followed
                os.setxattr(f"/proc/self/fd/{dir_fd}/{name}", xname, base64.b64decode(value), follow_symlinks=False)
            except OSError as exc:
                report(rel, "error", f"cannot restore xattr {xname}: {exc.strerror}")
    os.utime(name, ns=(node["mtime_ns"], node["mtime_ns"]), dir_fd=dir_fd, follow_symlinks=False)
