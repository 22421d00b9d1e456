"""The parallel part of restore: writing whole files in a thread pool.

A file task creates an unnamed file in its directory (O_TMPFILE by dir fd; else a
temporary name with O_EXCL|O_NOFOLLOW), writes the verified blobs (holes are skipped),
sets metadata and links (or renames) the file into place, so a file appears only when
whole. Small files (one blob) load in the task's own
thread; a multi-blob file prefetches its blobs through a second pool so decoding runs
ahead of writing. Directory fds are shared by reference count: the walker holds one
reference, each pending task another, and the fd is closed when the last one lets go,
after the directory's own metadata is applied (nothing will change its entries then).
"""

from __future__ import annotations

import errno
import itertools
import os
import stat
import threading
from typing import Callable, Iterator

from sharebackup.engine import fs_apply, safe_remove
from sharebackup.engine.blob_prefetch import BlobPrefetcher

TMP_PREFIX = ".sbk-restore-"


def batchable(node: dict) -> bool:
    """A regular file of at most one blob and no other names, which the restore writes in a
    batch of small files (a hard link's first name must report back to its group, which the
    per-file path does)."""
    return node["type"] == "file" and "link" not in node and len(node.get("content", ())) <= 1


def error_text(exc: Exception) -> str:
    return (exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc)


class NewFiles:
    """What a file created in a directory gets without asking: the owner (our euid; the
    directory's group if it is set-group-id, else our egid) and the permission bits asked
    for less the umask. Metadata the file already has is not set again (chown and chmod
    are two of a small file's seven system calls)."""

    __slots__ = ("uid", "gid", "umask")

    def __init__(self, dir_fd: int, umask: int | None):
        st = os.fstat(dir_fd)
        self.uid = os.geteuid()
        self.gid = st.st_gid if st.st_mode & stat.S_ISGID else os.getegid()
        self.umask = umask

    def made(self, mode: int) -> tuple[int, int, int | None]:
        """(uid, gid, permission bits) of a file created with ``mode`` (None: unknown umask)."""
        return self.uid, self.gid, None if self.umask is None else mode & 0o777 & ~self.umask


class DirHandle:
    def __init__(self, fd: int, on_last: Callable[[int], None] | None = None, fresh: NewFiles | None = None):
        self.fd = fd
        # made empty by this restore: files go straight to their names (see create_for)
        self.fresh = fresh
        self.on_last = on_last  # runs with the fd once the walker and all tasks are done with it
        self._refs = 1
        self._lock = threading.Lock()

    def ref(self) -> "DirHandle":
        with self._lock:
            self._refs += 1
        return self

    def unref(self) -> None:
        with self._lock:
            self._refs -= 1
            last = self._refs == 0
        if last:
            try:
                if self.on_last is not None:
                    self.on_last(self.fd)
            finally:
                os.close(self.fd)


_counter = itertools.count()
_RUN = f"{os.getpid()}-{os.urandom(3).hex()}"


def tmp_name() -> str:
    return f"{TMP_PREFIX}{_RUN}-{next(_counter)}"  # unique in this process; O_EXCL guards the rest


_tmpfile_ok = hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd")


def create_unnamed(dir_fd: int) -> tuple[int, str | None]:
    """An fd for a new file in the directory, and its temporary name (None if unnamed).

    O_TMPFILE makes an inode with no name: nothing is visible until link_into() gives it
    one, a crash leaves nothing behind, and the directory is touched once instead of
    twice (create + rename), which matters when several threads fill one directory.
    """
    global _tmpfile_ok
    if _tmpfile_ok:
        try:
            return os.open(".", os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600, dir_fd=dir_fd), None
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                raise
            _tmpfile_ok = False  # this file system cannot: use named temporaries
    tmp = tmp_name()
    return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dir_fd), tmp


def create_for(dir_fd: int, name: str, fresh: NewFiles | None, mode: int = 0o600) -> tuple[int, str | None, bool]:
    """(fd, temporary name, written under its final name?) for a new file called ``name``.

    In a directory this restore made (``fresh``) the file is created under its own name with
    O_EXCL | O_NOFOLLOW, the way restic and tar write: an unnamed O_TMPFILE inode costs two
    journaled orphan-list updates under one file-system-wide lock, which doubled a restore's
    metadata time on journaled ext4. A file that fails is unlinked again; only a crash of the
    whole process can leave a partial file, inside a directory that did not exist before this
    (failed) restore. Anywhere else (merging into existing directories) the file appears only
    when whole, as before: the name may hold the tenant's current file until then. There the
    file is created with its permission bits (``mode``; set-id bits come after chown): the new
    directory stays 0700 until everything below it is written."""
    if fresh is not None:
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode & 0o777,
                           dir_fd=dir_fd), None, True
        except FileExistsError:
            pass  # someone put an entry there meanwhile: replace it the careful way
    fd, tmp = create_unnamed(dir_fd)
    return fd, tmp, False


def link_into(dir_fd: int, fd: int, tmp: str | None, name: str) -> None:
    """Give the finished file its name, replacing whatever had that name."""
    if tmp is None:
        try:
            os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=dir_fd, follow_symlinks=True)
            return
        except FileExistsError:
            tmp = tmp_name()  # merge over an existing entry: link aside, then rename over it
            os.link(f"/proc/self/fd/{fd}", tmp, dst_dir_fd=dir_fd, follow_symlinks=True)
    replace_into(dir_fd, tmp, name)


def replace_into(dir_fd: int, tmp: str, name: str) -> None:
    """Rename tmp over name; a directory in the way (snapshot has a file there) is removed."""
    try:
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except IsADirectoryError:
        remove_entry(dir_fd, name)
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except OSError:
        os.unlink(tmp, dir_fd=dir_fd)
        raise


def remove_entry(dir_fd: int, name: str | bytes) -> None:
    """Remove what is at name now, a whole tree if a directory; nothing is followed."""
    safe_remove.remove_tree(dir_fd, os.fsencode(name))


def write_file(repo, prefetch: BlobPrefetcher | None, dir_fd: int, node: dict, rel: str, progress, report,
               blobs: Iterator[bytes] | None = None, want_stat: bool = True, fresh: NewFiles | None = None
               ) -> tuple[int, os.stat_result | None]:
    """Restore one regular file; returns bytes written (holes included) and the new inode's stat
    (None unless ``want_stat``: only a hard link's first name needs it). ``blobs``: the file's
    contents already loaded (a batch of small files); else they are loaded here."""
    content = node.get("content", ())
    if blobs is None:
        ids = [bytes.fromhex(c) for c in content if isinstance(c, str)]
        blobs = prefetch.iter_blobs(ids) if len(ids) > 1 and prefetch else (repo.load_blob(i) for i in ids)
    fd, tmp, final = create_for(dir_fd, node["name"], fresh, node["mode"])
    try:
        pos = 0
        for item in content:
            if isinstance(item, int):
                pos += item  # a hole: seek past it, leaving it unallocated
                progress.add(item)
                continue
            data = next(blobs)  # verified against its id before we see it
            view = memoryview(data)
            while view:
                n = os.pwrite(fd, view, pos)
                pos += n
                view = view[n:]
            progress.add(len(data))
        if content and isinstance(content[-1], int):
            os.ftruncate(fd, pos)  # a trailing hole: extend the size without writing
        fs_apply.apply_to_fd(fd, node, report, rel, fresh.made(node["mode"]) if final else None)
        made = os.fstat(fd) if want_stat else None
        if not final:
            link_into(dir_fd, fd, tmp, node["name"])
    except BaseException:
        os.close(fd)
        if tmp is not None or final:
            try:
                os.unlink(node["name"] if final else tmp, dir_fd=dir_fd)
            except FileNotFoundError:
                pass  # already renamed into place before the failure, or gone
        raise
    os.close(fd)
    return pos, made
