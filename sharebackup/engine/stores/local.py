"""A store in a local directory (or any POSIX mount: NFS, CephFS).

Durability follows the classic recipe: write to a temporary file in the target
directory, fsync it, link it into place only if the name is free, then fsync the
directory so the new entry survives a power cut. `os.link` fails with EEXIST when the
name is taken, which gives put-if-absent atomically even between processes (rename
would silently overwrite).
"""

from __future__ import annotations

import errno
import os
import threading
from typing import Iterator

from sharebackup.engine.errors import ObjectExists, ObjectMissing, StoreError
from sharebackup.engine.stores.base import ObjectInfo, Store

_TMP_PREFIX = ".tmp-"


class LocalStore(Store):
    def __init__(self, root: str, *, fsync: bool = True):
        self.root = os.path.abspath(root)
        self.location = "local:" + self.root
        self._fsync = fsync
        self._made_dirs: set[str] = set()
        self._lock = threading.Lock()

    def _path(self, name: str) -> str:
        parts = name.split("/")
        if not name or any(p in ("", ".", "..") or p.startswith(_TMP_PREFIX) for p in parts):
            raise StoreError(f"invalid object name {name!r}")
        return os.path.join(self.root, *parts)

    def _ensure_dir(self, directory: str) -> None:
        if directory in self._made_dirs:
            return
        if not os.path.isdir(directory):
            os.makedirs(directory, exist_ok=True)
            if self._fsync:
                _fsync_dir(os.path.dirname(directory))
        with self._lock:
            self._made_dirs.add(directory)

    def put_if_absent(self, name: str, data: bytes) -> bool:
        path = self._path(name)
        directory = os.path.dirname(path)
        self._ensure_dir(directory)
        if os.path.lexists(path):
            raise ObjectExists(name)
        tmp = os.path.join(directory, f"{_TMP_PREFIX}{os.getpid()}-{threading.get_ident()}-{os.urandom(4).hex()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if self._fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                raise ObjectExists(name) from None
            raise StoreError(f"cannot store {name}: {exc}") from exc
        finally:
            os.unlink(tmp)
        if self._fsync:
            _fsync_dir(directory)
        return True

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        # os.open + pread: three system calls where a Python file object makes five
        # (fstat, ioctl, lseek), which counts when a restore reads one small blob per file
        path = self._path(name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise ObjectMissing(name) from None
        except OSError as exc:
            raise StoreError(f"cannot read {name}: {exc}") from exc
        try:
            if offset < 0 or length is None:
                size = os.fstat(fd).st_size
                offset = max(0, size + offset) if offset < 0 else offset
            if length is None:  # to the end, as it is when read (whatever the size said before)
                if offset:
                    os.lseek(fd, offset, os.SEEK_SET)
                return _read_to_end(fd, max(0, size - offset))
            return _pread_all(fd, length, offset)
        except OSError as exc:
            raise StoreError(f"cannot read {name}: {exc}") from exc
        finally:
            os.close(fd)

    def head(self, name: str) -> ObjectInfo:
        try:
            st = os.stat(self._path(name))
        except FileNotFoundError:
            raise ObjectMissing(name) from None
        return ObjectInfo(name, st.st_size, st.st_mtime)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        # Walk only the directory that can hold the prefix, then filter by name.
        base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = os.path.join(self.root, base) if base else self.root
        for dirpath, dirnames, filenames in os.walk(start):
            rel_dir = os.path.relpath(dirpath, self.root)
            rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
            dirnames.sort()
            for fn in sorted(filenames):
                if fn.startswith(_TMP_PREFIX):
                    continue
                name = rel_dir + fn
                if not name.startswith(prefix):
                    continue
                try:
                    st = os.stat(os.path.join(dirpath, fn))
                except FileNotFoundError:
                    continue  # deleted while listing
                yield ObjectInfo(name, st.st_size, st.st_mtime)

    def delete(self, name: str) -> None:
        path = self._path(name)
        try:
            os.unlink(path)
        except FileNotFoundError:
            raise ObjectMissing(name) from None
        if self._fsync:
            _fsync_dir(os.path.dirname(path))


def _pread_all(fd: int, length: int, offset: int) -> bytes:
    """Up to ``length`` bytes at ``offset``; fewer only at the end of the file."""
    data = os.pread(fd, length, offset)
    if len(data) == length or not data:
        return data
    parts = [data]
    got = len(data)
    while got < length:
        more = os.pread(fd, length - got, offset + got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _read_to_end(fd: int, expect: int) -> bytes:
    """Everything from the current position; ``expect`` (the size left, as fstat saw it) sizes
    the first read, so a small object does not allocate a large buffer."""
    parts: list[bytes] = []
    while True:
        data = os.read(fd, expect + 65536 if not parts else 16 * 1024 * 1024)
        if not data:
            return b"".join(parts)
        parts.append(data)


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
