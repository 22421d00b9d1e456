"""A backup's page: its details, a file browser (one directory at a time, by name), a file's
download, and "restore the selected paths" (the same services and rules as
/sharebackup/v1/share-backups/{id}/files, /content and /restore)."""
from __future__ import annotations

from urllib.parse import quote

from sharebackup.api.console import render
from sharebackup.api.console.guard import form_of, form_list, signed_in
from sharebackup.api.console.pages_tenant import authorize
from sharebackup.api.handlers.backup_files import _attachment
from sharebackup.api.schemas import backup_files as schema
from sharebackup.policies import extension_backups as rules, share_backups as backup_rules
from sharebackup.services import share_backups
from sharebackup.workflows import backup_browse

PAGE = 1000


def _parent(path: str) -> str | None:
    return None if path == "/" else ("/" + "/".join(path.strip("/").split("/")[:-1]))


class BackupDetail:
    @signed_in
    def on_get(self, req, resp, backup_id):
        rt, ctx = req.context.runtime, req.context.auth
        authorize(req, backup_rules.GET)
        backup = share_backups.get(rt, ctx, backup_id)
        path = schema.path(req.get_param("path") or "/")
        entries, more = [], False
        if backup.status in backup_browse.BROWSABLE:
            authorize(req, rules.BROWSE)
            entries, more = backup_browse.list_directory(rt, ctx, backup_id, path, req.get_param("after"), PAGE)
        crumbs, walked = [("(root)", "/")], ""
        for part in [p for p in path.split("/") if p]:
            walked += "/" + part
            crumbs.append((part, walked))
        render.page(req, resp, "backup.html", title=backup.display_name or backup.id, backup=backup, path=path,
                    entries=entries, more=more, crumbs=crumbs, parent=_parent(path), quote=quote,
                    notice=req.get_param("notice"))


class BackupDownload:
    @signed_in
    def on_get(self, req, resp, backup_id):
        authorize(req, rules.DOWNLOAD)
        content = backup_browse.content(req.context.runtime, req.context.auth, backup_id, schema.query_path(req))
        resp.content_type = "application/octet-stream"
        resp.set_header("ETag", f'"{content.etag}"')
        _attachment(resp, content.name)
        resp.content_length = content.size
        resp.stream = content.read()


class BackupRestore:
    """Everything (no path ticked: the whole backup, as Manila's restore) or the ticked paths."""

    @signed_in
    def on_post(self, req, resp, backup_id):
        rt, ctx = req.context.runtime, req.context.auth
        form = form_of(req)
        paths = sorted({schema.path(p, "path") for p in form_list(form, "paths") if p})
        mode = form.get("mode") or "merge"
        if mode not in schema.MODES:
            mode = "merge"
        target_path = schema.path(form.get("target_path") or "/", "target_path")
        if not paths and mode == "merge" and target_path == "/":
            authorize(req, backup_rules.RESTORE)
            share_backups.restore(rt, ctx, backup_id, None)
        else:
            authorize(req, rules.RESTORE_PARTIAL)
            for path in paths:
                backup_browse.stat(rt, ctx, backup_id, path)
            share_backups.restore(rt, ctx, backup_id, None, {"paths": paths, "mode": mode, "target_path": target_path})
        render.redirect(resp, "/console/backups?notice=Restore+started:+its+progress+shows+below.")
