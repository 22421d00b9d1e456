"""Looking into a share backup without restoring it: a directory's entries, one entry, a file's
bytes (ranges too), a subtree as tar or zip. For /sharebackup/v1/share-backups/{id}/...

The backup is found as the Manila API finds it (share_backups.get: the caller's project, or
any for admins; else 404) and must be ``available`` or ``restoring``. Paths are split by
engine/browse.py into plain names and walked through the snapshot's tree blobs: nothing on
any file system is touched, a symlink the backup holds is never followed, and ``..``, NUL or
over-long paths are refused (400) before anything is read.

Repositories stay open between requests (their index loaded once): one is opened again when a
backup newer than its index asks for it, and once more when a read fails because garbage
collection repacked what the cached index points at.
"""
from __future__ import annotations

import hashlib
import queue
import threading
import time
from dataclasses import dataclass
from typing import Iterator

from sharebackup.core.context import RequestContext
from sharebackup.core.errors import Invalid, NotFound
from sharebackup.core.runtime import Runtime
from sharebackup.engine import archive, browse
from sharebackup.engine.errors import EngineError, UnsafePathError
from sharebackup.services import share_backups
from sharebackup.workflows import backup_repository

BROWSABLE = ("available", "restoring")
_CACHE_LOCK = threading.Lock()
_OPEN: dict[tuple[str, str], tuple[float, object]] = {}  # (state dir, repository) -> (opened at, repo)


@dataclass
class Opened:
    backup_id: str
    repo: object
    snap: dict


def _repository(rt: Runtime, name: str, newer_than: float, fresh: bool = False):
    key = (str(rt.config.state_path), name)
    with _CACHE_LOCK:
        cached = _OPEN.get(key)
        if cached is not None and not fresh and cached[0] > newer_than:
            return cached[1]
        opened_at = time.time()
        repo = backup_repository.open_existing_repository(rt.config, name)
        if repo is None:
            raise NotFound(f"The repository of this backup ({name}) holds no data.")
        _OPEN[key] = (opened_at, repo)
        return repo


def open_backup(rt: Runtime, ctx: RequestContext, backup_id: str, fresh: bool = False) -> Opened:
    backup = share_backups.get(rt, ctx, backup_id)
    if backup.status not in BROWSABLE or not backup.engine_snapshot_id:
        raise Invalid(f"Backup {backup.id} is {backup.status}: only an available backup can be browsed.")
    finished = (backup.updated_at or backup.created_at).timestamp()
    repo = _repository(rt, backup.repository or backup_repository.DEFAULT, finished, fresh)
    try:
        snap = repo.load_snapshot(backup.engine_snapshot_id)
    except EngineError:
        if fresh:
            raise NotFound(f"The data of backup {backup.id} is missing from its repository.") from None
        return open_backup(rt, ctx, backup_id, fresh=True)
    return Opened(backup.id, repo, snap)


def _node(opened: Opened, path: str) -> dict:
    try:
        return browse.node_at(opened.repo, opened.snap, path)
    except UnsafePathError as exc:
        raise Invalid(f"Invalid path: {exc}") from None
    except browse.PathNotFound:
        raise NotFound(f"{_shown(path)} is not in backup {opened.backup_id}.") from None
    except browse.NotADirectory as exc:
        raise NotFound(f"{_shown(path)} is not in backup {opened.backup_id}: {exc}.") from None


def _shown(path: str) -> str:
    return "/" + "/".join(browse.split_path(path))


def _retrying(rt: Runtime, ctx: RequestContext, backup_id: str, read):
    """``read(opened)``, again on a fresh repository when the cached index points at a gone pack."""
    opened = open_backup(rt, ctx, backup_id)
    try:
        return read(opened)
    except (Invalid, NotFound):
        raise
    except EngineError:
        return read(open_backup(rt, ctx, backup_id, fresh=True))


def list_directory(rt: Runtime, ctx: RequestContext, backup_id: str, path: str, marker: str | None,
                   limit: int) -> tuple[list[dict], bool]:
    """The entries of the directory at ``path`` after the name ``marker``: (page, more follow)."""
    def read(opened: Opened):
        node = _node(opened, path)
        if node["type"] != "dir":
            raise Invalid(f"{_shown(path)} is a {browse.entry('', node)['type']}, not a directory: "
                          "ask for files/stat to see it.")
        base = "" if _shown(path) == "/" else _shown(path)
        rows = browse.page(opened.repo, node, marker, limit + 1)
        return [browse.entry(f"{base}/{n['name']}", n) for n in rows[:limit]], len(rows) > limit
    return _retrying(rt, ctx, backup_id, read)


def stat(rt: Runtime, ctx: RequestContext, backup_id: str, path: str) -> dict:
    return _retrying(rt, ctx, backup_id, lambda opened: browse.entry(_shown(path), _node(opened, path)))


@dataclass
class Content:
    size: int
    etag: str
    name: str
    opened: Opened
    node: dict

    def read(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        return browse.read_range(self.opened.repo, self.node, start, end)


def content(rt: Runtime, ctx: RequestContext, backup_id: str, path: str) -> Content:
    """A file's bytes, to be read in ranges; the ETag is its content id (the hash of its blob ids:
    the same bytes in any backup of the repository have the same one)."""
    def read(opened: Opened):
        node = _node(opened, path)
        if node["type"] != "file":
            raise Invalid(f"{_shown(path)} is a {browse.entry('', node)['type']}: only a file has content "
                          "(a directory downloads as an archive).")
        digest = hashlib.sha256(repr(node.get("content", [])).encode()).hexdigest()
        return Content(node.get("size", 0), digest, node["name"], opened, node)
    return _retrying(rt, ctx, backup_id, read)


def archive_stream(rt: Runtime, ctx: RequestContext, backup_id: str, path: str, fmt: str) -> tuple[str, Iterator[bytes]]:
    """(name, chunks) of the subtree at ``path`` as tar or zip, produced while it is sent."""
    if fmt not in archive.FORMATS:
        raise Invalid(f"Invalid format {fmt!r}: give tar or zip.")
    opened = open_backup(rt, ctx, backup_id)
    node = _node(opened, path)
    name = "backup" if _shown(path) == "/" else node["name"]
    return f"{name}.{fmt}", _produced(lambda out: archive.write_archive(opened.repo, node, out, fmt))


class _Stop(Exception):
    pass


class _QueueWriter:
    """The archive writer's output: chunks into a bounded queue (memory stays a few chunks)."""

    def __init__(self, chunks: queue.Queue, stopped: threading.Event):
        self.chunks, self.stopped = chunks, stopped

    def write(self, data) -> int:
        self.write_item(bytes(data))
        return len(data)

    def write_item(self, item) -> None:
        while not self.stopped.is_set():
            try:
                self.chunks.put(item, timeout=0.5)
                return
            except queue.Full:
                continue
        raise _Stop()

    def flush(self) -> None:
        pass


def _produced(write) -> Iterator[bytes]:
    """Run ``write(out)`` in a thread and yield what it writes; closing the iterator (the client
    went away) stops the writer at its next write."""
    chunks: queue.Queue = queue.Queue(maxsize=8)
    stopped = threading.Event()
    done = object()

    def run():
        out = _QueueWriter(chunks, stopped)
        try:
            write(out)
            last = done
        except _Stop:
            return
        except Exception as exc:  # reported to the reader, who ends the response early
            last = exc
        try:
            out.write_item(last)
        except _Stop:
            pass

    threading.Thread(target=run, name="sharebackup-archive", daemon=True).start()
    try:
        while True:
            item = chunks.get()
            if item is done:
                return
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stopped.set()

