"""The parallel part of restore: writing whole files in a thread pool.

A file task opens a temporary name in its directory (by fd, O_EXCL|O_NOFOLLOW), writes
the verified blobs (holes are skipped), sets metadata and renames the file into place,
so a file appears only when whole. Small files (one blob) load in the task's own
thread; a multi-blob file prefetches its blobs through a second pool so decoding runs
ahead of writing. Directory fds are shared by reference count: the walker holds one
reference, each pending task another, and the fd is closed when the last one lets go.
"""

from __future__ import annotations

import os
import shutil
import stat
import threading

from sharebackup.engine import fs_apply
from sharebackup.engine.blob_prefetch import BlobPrefetcher

TMP_PREFIX = ".sbk-restore-"


class DirHandle:
    def __init__(self, fd: int):
        self.fd = fd
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
            os.close(self.fd)


def tmp_name() -> str:
    return TMP_PREFIX + os.urandom(6).hex()


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


def remove_entry(dir_fd: int, name: str) -> None:
    st = os.lstat(name, dir_fd=dir_fd)
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=dir_fd)  # works by fd and does not follow symlinks
    else:
        os.unlink(name, dir_fd=dir_fd)


def write_file(repo, prefetch: BlobPrefetcher, dir_fd: int, node: dict, rel: str, progress, report) -> int:
    """Restore one regular file; returns bytes written (holes included)."""
    content = node.get("content", ())
    ids = [bytes.fromhex(c) for c in content if isinstance(c, str)]
    blobs = prefetch.iter_blobs(ids) if len(ids) > 1 else (repo.load_blob(i) for i in ids)
    tmp = tmp_name()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
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
        fs_apply.apply_to_fd(fd, node, report, rel)
    except BaseException:
        os.close(fd)
        os.unlink(tmp, dir_fd=dir_fd)
        raise
    os.close(fd)
    replace_into(dir_fd, tmp, node["name"])
    return pos
