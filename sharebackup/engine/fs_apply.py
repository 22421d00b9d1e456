"""Applying recorded metadata to restored entries, relative to a directory fd.

Every call works on (dir_fd, name) or an fd of our own, never on a path that could
cross a symlink. Ownership is restored only when running as root (an ordinary user
cannot give files away); mode is set after chown because chown clears set-id bits.
"""

from __future__ import annotations

import base64
import os

from sharebackup.engine import safe_fs

IS_ROOT = os.geteuid() == 0


def apply_to_fd(fd: int, node: dict, report, rel: str, made: tuple | None = None) -> None:
    """Metadata for a regular file or directory we hold open (times last). ``made``: the
    (uid, gid, permission bits or None) the entry was created with, which need no call."""
    if IS_ROOT and not (made and (node["uid"], node["gid"]) == made[:2]):
        try:
            os.fchown(fd, node["uid"], node["gid"])
        except OSError as exc:
            report(rel, "error", f"cannot restore owner: {exc.strerror}")
    for name, value in node.get("xattrs", {}).items():
        try:
            os.setxattr(fd, name, base64.b64decode(value))
        except OSError as exc:
            report(rel, "error", f"cannot restore xattr {name}: {exc.strerror}")
    if not (made and made[2] == node["mode"] & 0o7777):  # chown clears set-id bits: none here
        os.fchmod(fd, node["mode"])
    os.utime(fd, ns=(node["mtime_ns"], node["mtime_ns"]))


def apply_to_link(dir_fd: int, name: str, node: dict, report, rel: str) -> None:
    """Metadata for a symlink, fifo or device node, by name without following: a tenant
    may swap the entry for a symlink to a host file at any moment, so the mode lands on
    the verified inode (safe_fs.chmod_at) and owner, times and xattrs use no-follow calls."""
    bname = os.fsencode(name)
    if IS_ROOT:
        try:
            safe_fs.chown_at(dir_fd, bname, node["uid"], node["gid"])
        except OSError as exc:
            report(rel, "error", f"cannot restore owner: {exc.strerror}")
    if node["type"] != "symlink":
        safe_fs.chmod_at(dir_fd, bname, lambda st: node["mode"])
        for xname, value in node.get("xattrs", {}).items():
            try:
                safe_fs.setxattr_at(dir_fd, bname, xname, base64.b64decode(value))
            except OSError as exc:
                report(rel, "error", f"cannot restore xattr {xname}: {exc.strerror}")
    safe_fs.utime_at(dir_fd, bname, node["mtime_ns"])
