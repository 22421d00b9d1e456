"""/sharebackup/v1/share-backups/{id}/files, /files/stat, /content, /archive and /restore:
browse a backup, download from it, restore chosen paths (workflows/backup_browse.py reads the
snapshot; the restore goes through share_backups.restore, the Manila restore's path)."""
from __future__ import annotations

from urllib.parse import quote, urlencode

from sharebackup.api.schemas import backup_files as schema
from sharebackup.api.views.backup_policies import ROOT
from sharebackup.services import share_backups
from sharebackup.workflows import backup_browse


def list_backup_files(req, resp, backup_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    path, marker, limit = schema.listing(req)
    entries, more = backup_browse.list_directory(rt, ctx, backup_id, path, marker, limit)
    body = {"files": entries}
    if more and entries:
        query = urlencode({"path": path, "limit": limit, "marker": entries[-1]["name"]})
        body["files_links"] = [{"rel": "next", "href": f"{req.prefix.rstrip('/')}{ROOT}/share-backups/"
                                                       f"{backup_id}/files?{query}"}]
    resp.media = body


def stat_backup_file(req, resp, backup_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    resp.media = {"file": backup_browse.stat(rt, ctx, backup_id, schema.query_path(req))}


def _attachment(resp, name: str) -> None:
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("\\", "_")
    quoted = quote(name.encode("utf-8", "surrogateescape"), safe="")
    resp.set_header("Content-Disposition", f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quoted}")


def download_backup_file(req, resp, backup_id, **params):
    """The bytes, streamed a blob at a time; `Range: bytes=` answers 206 (If-Range respected)."""
    rt, ctx = req.context.runtime, req.context.auth
    content = backup_browse.content(rt, ctx, backup_id, schema.query_path(req))
    etag = f'"{content.etag}"'
    if_range = req.get_header("If-Range")
    wanted = schema.byte_range(req.get_header("Range"), content.size) if if_range in (None, etag) else None
    start, end = wanted or (0, content.size)
    resp.status = 206 if wanted else 200
    if wanted:
        resp.set_header("Content-Range", f"bytes {start}-{end - 1}/{content.size}")
    resp.content_type = "application/octet-stream"
    resp.set_header("ETag", etag)
    resp.set_header("Accept-Ranges", "bytes")
    _attachment(resp, content.name)
    resp.content_length = end - start
    resp.stream = content.read(start, end)


def download_backup_archive(req, resp, backup_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    fmt = schema.archive_format(req)
    name, chunks = backup_browse.archive_stream(rt, ctx, backup_id, schema.query_path(req), fmt)
    resp.content_type = "application/x-tar" if fmt == "tar" else "application/zip"
    _attachment(resp, name)
    resp.stream = chunks


def restore_backup_paths(req, resp, backup_id, **params):
    """202 with the restore's ids; the paths are checked against the backup first (404 for one it
    does not hold), so a mistyped path fails now, not in the job."""
    rt, ctx = req.context.runtime, req.context.auth
    request = schema.restore(req)
    for path in request["paths"]:
        backup_browse.stat(rt, ctx, backup_id, path)
    selection = {"paths": request["paths"], "mode": request["mode"], "target_path": request["target_path"]}
    restored_id, share_id = share_backups.restore(rt, ctx, backup_id, request["target_share_id"], selection)
    resp.media = {"restore": {"backup_id": restored_id, "share_id": share_id, **selection}}
    resp.status = 202
