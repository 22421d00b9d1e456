"""Reading a snapshot without restoring it: one entry, one directory, a subtree, a file's bytes.

Everything here walks tree blobs by name: no file system is touched, so a path can only name
what the snapshot holds. A path is split into components and each must be a plain name (no
`..`, `.`, NUL); a component that is a symlink in the snapshot is never followed (it is not a
directory), so no path reaches outside the snapshot. A directory's entries are sorted by name
in its tree blob, so a page after a marker is a bisection, and listing one directory reads
one blob (plus the blobs of the directories on its path), whatever the size of the tree.
"""
from __future__ import annotations

import bisect
import time
from typing import Iterator

from sharebackup.engine.errors import EngineError, IntegrityError, UnsafePathError
from sharebackup.engine.tree import decode_tree

MAX_PATH_BYTES = 4096 * 16  # far deeper than PATH_MAX; beyond this a path is refused unread


class PathNotFound(EngineError):
    """The snapshot holds nothing at this path."""


class NotADirectory(EngineError):
    """The path names something that is not a directory (a symlink is never followed)."""


class IsADirectory(EngineError):
    """The path names a directory where a file was asked for."""


def split_path(path: str) -> list[str]:
    """'/a//b/' -> ['a', 'b']; refuse what is no plain name."""
    if not isinstance(path, str) or len(path.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES:
        raise UnsafePathError("the path is too long")
    parts = [p for p in path.split("/") if p]
    for part in parts:
        if part in (".", "..") or "\x00" in part:
            raise UnsafePathError(f"unsafe path component {part!r}: give a plain path such as /dir/file")
    return parts


def entry(path: str, node: dict) -> dict:
    """What a listing says of a node: the engine CLI's `ls --json` and the service's file listing."""
    out = {"path": path, "name": node["name"], "type": _kind(node["type"]), "size": node.get("size", 0),
           "mode": node.get("mode", 0), "mtime": _time(node.get("mtime_ns"))}
    if node["type"] == "symlink":
        out["target"] = node.get("target", "")
    return out


def _kind(node_type: str) -> str:
    return node_type if node_type in ("file", "dir", "symlink") else "other"


def _time(ns) -> str | None:
    # gmtime and % are about 3x faster than datetime's strftime: a listing formats 10,000 of these
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % time.gmtime(ns // 1_000_000_000)[:6] if ns else None


def root_node(snap: dict) -> dict:
    node = dict(snap.get("root") or {"type": "dir", "mode": 0o755})
    node.update(name="/", type="dir", subtree=snap["tree"])
    return node


def node_at(repo, snap: dict, path: str) -> dict:
    """The node at ``path`` (the root for "/"), or PathNotFound / NotADirectory."""
    node = root_node(snap)
    walked = ""
    for part in split_path(path):
        if node["type"] != "dir":
            raise NotADirectory(f"{walked or '/'} is not a directory in the backup ({node['type']})")
        node = _child(repo, node, part)
        if node is None:
            raise PathNotFound(f"{walked}/{part} is not in the backup")
        walked = f"{walked}/{part}"
    return node


def children(repo, node: dict) -> list[dict]:
    if node["type"] != "dir":
        raise NotADirectory(f"{node['name']} is not a directory in the backup ({node['type']})")
    return decode_tree(repo.load_tree(bytes.fromhex(node["subtree"])))


def page(repo, node: dict, marker: str | None = None, limit: int | None = None) -> list[dict]:
    """The entries of directory ``node`` after the name ``marker``, at most ``limit``."""
    nodes = children(repo, node)
    start = bisect.bisect_right([n["name"] for n in nodes], marker) if marker is not None else 0
    return nodes[start:start + limit] if limit is not None else nodes[start:]


def walk(repo, node: dict, path: str = "") -> Iterator[tuple[str, dict]]:
    """(path, node) for ``node`` and everything below it, depth first, names in order."""
    yield path or "/", node
    if node["type"] == "dir":
        for child in children(repo, node):
            yield from walk(repo, child, f"{path}/{child['name']}")


def read_range(repo, node: dict, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """The bytes [start, end) of file ``node``, a blob at a time (memory stays one blob)."""
    if node["type"] == "dir":
        raise IsADirectory(f"{node['name']} is a directory")
    if node["type"] != "file":
        raise EngineError(f"{node['name']} is a {node['type']}, which has no content")
    size = node.get("size", 0)
    end = size if end is None else min(end, size)
    offset = 0
    for item in node.get("content", ()):
        length = item if isinstance(item, int) else _plain_len(repo, item)
        if offset + length > start and offset < end:
            first, last = max(0, start - offset), min(length, end - offset)
            if isinstance(item, int):
                yield from _zeros(last - first)  # a sparse hole: no blob, and never one big buffer
            else:
                yield repo.load_blob(bytes.fromhex(item))[first:last]
        offset += length
        if offset >= end:
            return


def _zeros(count: int, piece: int = 1 << 20) -> Iterator[bytes]:
    while count > 0:
        yield bytes(min(piece, count))
        count -= piece


def _plain_len(repo, blob_hex: str) -> int:
    loc = repo.index.get(bytes.fromhex(blob_hex))
    if loc is None:
        raise IntegrityError(f"blob {blob_hex} is not in the index")
    return loc.plain_len


def _child(repo, node: dict, name: str) -> dict | None:
    nodes = children(repo, node)
    names = [n["name"] for n in nodes]
    at = bisect.bisect_left(names, name)
    return nodes[at] if at < len(nodes) and names[at] == name else None
