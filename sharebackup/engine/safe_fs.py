"""Share access by directory file descriptor: the one way the engine and the local share
driver touch a share's contents.

A share's tenant can rename, replace or swap any entry of the share between two of our
system calls, also while we run as root (docs/security.md). So, here:

- a name is only ever resolved as one path component below a directory fd that we
  opened ourselves, with O_NOFOLLOW; no path string is resolved from the share root
  twice, so there is no PATH_MAX limit either;
- what we open is compared (st_dev, st_ino, file type) with what we listed. A mismatch
  raises EntryChanged: the caller reports it and skips or lists again. It never reads,
  writes or changes what the name now leads to somewhere else;
- metadata is applied to an fd we hold: an open file or directory, or an O_PATH fd of
  a verified inode, reached through /proc/self/fd (the kernel's magic link names that
  inode, not a path a tenant can change). A tenant's name is never followed;
- names are bytes, exactly as the directory holds them; text is made only for messages
  (`display`).

Tree walks (backup_walk, safe_tree.TreeWalk) keep one fd per level and never recurse in
Python; MAX_DEPTH bounds them so a hostile, endlessly deep tree costs a clear report
instead of every descriptor we have.

`race_hook` is for tests: when set, it is called with (dir_fd, name) just before a
listed name is opened, which is exactly the window a hostile tenant aims at.
"""

from __future__ import annotations

import base64
import errno
import os
import stat
from typing import Callable

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a fifo swapped in for a listed file must not block the open
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC | os.O_NONBLOCK
INODE_FLAGS = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_DEPTH = 2048  # directory levels below a walk's root; deeper content is reported, not read

# errnos of an open that met something other than what was listed (a symlink or a
# non-directory now stands where a directory or file was)
_SWAPPED = (errno.ELOOP, errno.ENOTDIR, errno.ENXIO, errno.EISDIR)

race_hook: Callable[[int, bytes], None] | None = None


class EntryChanged(OSError):
    """The entry under a name is not the one that was listed: it changed in between."""

    def __init__(self, name: bytes, what: str = "changed during backup"):
        super().__init__(errno.ESTALE, what)
        self.name = name


def display(name: bytes | str) -> str:
    """Readable, valid UTF-8 text for a name or path: undecodable bytes as \\xNN."""
    if isinstance(name, str):
        name = name.encode("utf-8", "surrogateescape") if _is_escaped(name) else name.encode("utf-8", "backslashreplace")
    return name.decode("utf-8", "backslashreplace")


def _is_escaped(text: str) -> bool:
    try:
        text.encode("utf-8", "surrogateescape")
        return True
    except UnicodeEncodeError:
        return False


def proc_path(fd: int) -> str:
    """The magic link naming the inode behind our own fd."""
    return f"/proc/self/fd/{fd}"


def _at_path(dir_fd: int, name: bytes) -> bytes:
    """dir_fd's directory (through its magic link) plus one name, for calls that have
    no *at form (lgetxattr, lsetxattr): used only with their no-follow variants."""
    return b"/proc/self/fd/%d/%s" % (dir_fd, name)


def _before_open(dir_fd: int, name: bytes) -> None:
    if race_hook is not None:
        race_hook(dir_fd, name)


def same_inode(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino, stat.S_IFMT(a.st_mode)) == (b.st_dev, b.st_ino, stat.S_IFMT(b.st_mode))


# -- reading ------------------------------------------------------------------------------
def open_root(path: str | bytes) -> int:
    """A walk's root: a path the service or the operator chose (not tenant content)."""
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def names(dir_fd: int) -> list[bytes]:
    """The entries of a directory we hold, as bytes, sorted, each once: a directory changed
    while it is read may list a name twice, and a tree must not hold it twice."""
    return sorted({os.fsencode(n) for n in os.listdir(dir_fd)})


def lstat(dir_fd: int, name: bytes) -> os.stat_result:
    return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)


def _open_checked(dir_fd: int, name: bytes, flags: int, expect: os.stat_result | None, want: int | None) -> int:
    return _open_checked_stat(dir_fd, name, flags, expect, want)[0]


def _open_checked_stat(dir_fd: int, name: bytes, flags: int, expect: os.stat_result | None, want: int | None
                       ) -> tuple[int, os.stat_result]:
    _before_open(dir_fd, name)
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in _SWAPPED:
            raise EntryChanged(name) from None
        raise
    try:
        st = os.fstat(fd)
        if (want is not None and stat.S_IFMT(st.st_mode) != want) or (expect is not None and not same_inode(st, expect)):
            raise EntryChanged(name)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def open_dir(dir_fd: int, name: bytes, expect: os.stat_result | None = None) -> int:
    """The directory `name` below dir_fd, verified to be the one listed (if `expect`)."""
    return _open_checked(dir_fd, name, DIR_FLAGS, expect, stat.S_IFDIR)


def open_file(dir_fd: int, name: bytes, expect: os.stat_result | None = None) -> int:
    """The regular file `name` below dir_fd, for reading, verified like open_dir."""
    try:
        # keep atime: we are not a reader the user cares about; O_NOATIME needs ownership
        return _open_checked(dir_fd, name, FILE_FLAGS | os.O_NOATIME, expect, stat.S_IFREG)
    except PermissionError:
        return _open_checked(dir_fd, name, FILE_FLAGS, expect, stat.S_IFREG)


def open_file_stat(dir_fd: int, name: bytes, expect: os.stat_result | None = None) -> tuple[int, os.stat_result]:
    """open_file, and the fstat it checked with (taken after the open: the file as it is now)."""
    try:
        return _open_checked_stat(dir_fd, name, FILE_FLAGS | os.O_NOATIME, expect, stat.S_IFREG)
    except PermissionError:
        return _open_checked_stat(dir_fd, name, FILE_FLAGS, expect, stat.S_IFREG)


def open_inode(dir_fd: int, name: bytes, expect: os.stat_result | None = None) -> int:
    """An O_PATH fd of the entry itself, symlinks included (never followed)."""
    return _open_checked(dir_fd, name, INODE_FLAGS, expect, None)


def readlink(dir_fd: int, name: bytes) -> bytes:
    """The target of the symlink at name; EntryChanged if something else stands there now."""
    try:
        return os.readlink(name, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.EINVAL:  # not a symlink (any more)
            raise EntryChanged(name) from None
        raise


def xattrs(target: int | bytes) -> dict[str, str]:
    """Extended attributes (POSIX ACLs included) of an fd we read, or of an _at_path
    (never followed); base64 values. Best effort: unreadable ones are left out."""
    follow = isinstance(target, int)
    try:
        keys = os.listxattr(target, follow_symlinks=follow)
    except OSError:
        return {}
    out = {}
    for key in sorted(keys):
        try:
            out[key] = base64.b64encode(os.getxattr(target, key, follow_symlinks=follow)).decode()
        except OSError:
            continue  # removed meanwhile, or not readable by us
    return out


def xattrs_at(dir_fd: int, name: bytes) -> dict[str, str]:
    """xattrs of the entry `name` itself (a symlink's own, not its target's)."""
    return xattrs(_at_path(dir_fd, name))


# -- writing ------------------------------------------------------------------------------
def mkdir(dir_fd: int, name: bytes, mode: int = 0o700) -> None:
    os.mkdir(name, mode, dir_fd=dir_fd)


def unlink(dir_fd: int, name: bytes) -> None:
    os.unlink(name, dir_fd=dir_fd)


def rmdir(dir_fd: int, name: bytes) -> None:
    os.rmdir(name, dir_fd=dir_fd)


def rename(src_dir_fd: int, src: bytes, dst_dir_fd: int, dst: bytes) -> None:
    os.rename(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)


def symlink(target: bytes, dir_fd: int, name: bytes) -> None:
    os.symlink(target, name, dir_fd=dir_fd)


def mknod(dir_fd: int, name: bytes, mode: int, rdev: int = 0) -> None:
    os.mknod(name, mode, rdev, dir_fd=dir_fd)


def create_file(dir_fd: int, name: bytes, mode: int = 0o600) -> int:
    """A new file, refused if anything (a symlink included) has the name."""
    return os.open(name, CREATE_FLAGS, mode, dir_fd=dir_fd)


def link_inode(fd: int, dir_fd: int, name: bytes) -> None:
    """A new name for the inode behind our fd: linkat through its magic link, so the
    source is the inode we hold, never a name that a tenant could have swapped."""
    os.link(proc_path(fd), name, dst_dir_fd=dir_fd, follow_symlinks=True)


def chmod_inode(fd: int, mode: int) -> None:
    """chmod of the inode behind an O_PATH fd (fchmod refuses O_PATH fds)."""
    os.chmod(proc_path(fd), mode)


def chown_at(dir_fd: int, name: bytes, uid: int, gid: int) -> None:
    os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)


def utime_at(dir_fd: int, name: bytes, mtime_ns: int) -> None:
    os.utime(name, ns=(mtime_ns, mtime_ns), dir_fd=dir_fd, follow_symlinks=False)


def setxattr_at(dir_fd: int, name: bytes, key: str, value: bytes) -> None:
    os.setxattr(_at_path(dir_fd, name), key, value, follow_symlinks=False)


def chmod_at(dir_fd: int, name: bytes, mode_of: Callable[[os.stat_result], int],
             expect: os.stat_result | None = None) -> None:
    """Change the mode of the entry `name` (not a symlink: those have no mode of their
    own), computed from its own stat; the chmod lands on the verified inode."""
    fd = open_inode(dir_fd, name, expect)
    try:
        st = os.fstat(fd)
        if not stat.S_ISLNK(st.st_mode):
            chmod_inode(fd, mode_of(st))
    finally:
        os.close(fd)
