"""Query strings and bodies of /sharebackup/v1/share-backups/{id}/files, content, archive and
restore: paths are hostile input, checked here for shape (the engine checks each component
again as it walks the snapshot's trees)."""
from __future__ import annotations

import re

from sharebackup.api.body import require_body
from sharebackup.api.schemas.backup_policies import page
from sharebackup.api.schemas.shares import _params, text
from sharebackup.faults import Fault

MAX_PATH_BYTES = 4096
MAX_PATHS = 1000
# A directory's page: 1,000 entries unless asked, at most 10,000 (one tree blob holds them all:
# a bigger page costs JSON, not reads), whatever osapi_max_limit says of resource lists.
DEFAULT_FILES_PAGE, MAX_FILES_PAGE = 1000, 10_000
MODES = ("merge", "replace")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def path(value, name: str = "path") -> str:
    """A path inside the backup: '/a/b' (relative means from the root); '.', '..' and NUL refused."""
    if not isinstance(value, str):
        raise Fault(400, f"{name} must be a string such as /dir/file.")
    if "\x00" in value or len(value.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES:
        raise Fault(400, f"Invalid {name}: it holds a NUL or is longer than {MAX_PATH_BYTES} bytes.")
    if any(part in (".", "..") for part in value.split("/")):
        raise Fault(400, f"Invalid {name} {value!r}: '.' and '..' are not allowed; give a path from the "
                         "backup's root such as /dir/file.")
    return "/" + "/".join(part for part in value.split("/") if part)


def query_path(req) -> str:
    return path(_params(req).get("path", "/"))


def listing(req) -> tuple[str, str | None, int]:
    """(path, marker: the name after which the page starts, limit)."""
    marker, limit, _ = page(req, MAX_FILES_PAGE)
    if "limit" not in _params(req):
        limit = DEFAULT_FILES_PAGE
    if marker is not None and ("/" in marker or len(marker) > 1024):
        raise Fault(400, "marker must be the name of an entry of the directory (no '/').")
    return query_path(req), marker, limit


def archive_format(req) -> str:
    fmt = _params(req).get("format", "tar")
    if fmt not in ("tar", "zip"):
        raise Fault(400, f"Invalid format {fmt!r}: give tar or zip.")
    return fmt


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) of a single `Range: bytes=` header, None for the whole file (no header, or a
    form we do not serve in part, such as several ranges: RFC 9110 lets a server send it all);
    416 when it starts beyond the end."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":  # the last N bytes
        count = int(last)
        if count == 0:
            raise _unsatisfiable(size)
        return max(0, size - count), size
    start = int(first)
    end = size if last == "" else min(int(last) + 1, size)
    if start >= size or end <= start:
        raise _unsatisfiable(size)
    return start, end


def _unsatisfiable(size: int) -> Fault:
    return Fault(416, f"The range is not satisfiable: the file has {size} bytes.",
                 headers={"Content-Range": f"bytes */{size}"})


def restore(req) -> dict:
    """{"restore": {"paths": [...], "target_share_id": ..., "target_path": ..., "mode": ...}}, every
    key optional: no paths = everything, no target share = the backup's own, mode merge."""
    body = require_body(req)
    if not isinstance(body, dict) or not isinstance(body.get("restore", {}), dict):
        raise Fault(400, "The body must be an object with a 'restore' object.")
    value = body.get("restore") or {}
    unknown = sorted(str(key) for key in value if key not in ("paths", "target_share_id", "target_path", "mode"))
    if unknown:
        raise Fault(400, f"Unknown restore keys {unknown}; known: paths, target_share_id, target_path, mode.")
    paths = value.get("paths") or []
    if not isinstance(paths, list) or len(paths) > MAX_PATHS:
        raise Fault(400, f"paths must be a list of at most {MAX_PATHS} paths such as /dir/file.")
    mode = value.get("mode") or "merge"
    if mode not in MODES:
        raise Fault(400, f"Invalid mode {mode!r}: give merge or replace.")
    chosen = sorted({path(item, "paths item") for item in paths})
    return {"paths": [] if "/" in chosen else chosen, "mode": mode,
            "target_share_id": text(value.get("target_share_id"), "target_share_id", 36) or None,
            "target_path": path(value.get("target_path") or "/", "target_path")}
