"""Tenant pages: shares (newest backup, its age, the policy badge, "back up now"), backups (live
progress, size, repository; delete, restore) and user messages. Each page and action asks the
policy rule the API asks, then calls the same service."""
from __future__ import annotations

from sharebackup.api.console import render
from sharebackup.api.console.guard import form_of, signed_in
from sharebackup.policies import messages as message_rules, share_backups as backup_rules, shares as share_rules
from sharebackup.services import console_queries, share_backups
from sharebackup.services.share_backup_requests import CreateRequest


def authorize(req, rule: str) -> None:
    req.context.runtime.policy.authorize(req.context.auth, rule)


class Home:
    def on_get(self, req, resp):
        render.redirect(resp, "/console/shares")


class Shares:
    @signed_in
    def on_get(self, req, resp):
        authorize(req, share_rules.GET_ALL)
        rows = console_queries.shares(req.context.runtime, req.context.auth)
        render.page(req, resp, "shares.html", title="Shares", rows=rows, notice=req.get_param("notice"))


class ShareBackupNow:
    @signed_in
    def on_post(self, req, resp, share_id):
        authorize(req, backup_rules.CREATE)
        form = form_of(req)
        name = (form.get("name") or "").strip() or None
        backup = share_backups.create(req.context.runtime, req.context.auth, CreateRequest(share_id=share_id, name=name))
        render.redirect(resp, f"/console/backups?created={backup.id}")


class Backups:
    @signed_in
    def on_get(self, req, resp):
        authorize(req, backup_rules.GET_ALL)
        rows = console_queries.backups(req.context.runtime, req.context.auth, req.get_param("share_id"))
        notice = "Backup queued: its progress shows below." if req.get_param("created") else req.get_param("notice")
        render.page(req, resp, "backups.html", title="Backups", rows=rows, notice=notice)


class BackupStatus:
    """JSON for the progress poller (console.js): the same fields the API shows."""

    @signed_in
    def on_get(self, req, resp, backup_id):
        authorize(req, backup_rules.GET)
        backup = share_backups.get(req.context.runtime, req.context.auth, backup_id)
        resp.media = {"id": backup.id, "status": backup.status, "progress": backup.progress,
                      "restore_progress": backup.restore_progress}
        resp.set_header("Cache-Control", "no-store")


class BackupDelete:
    @signed_in
    def on_post(self, req, resp, backup_id):
        authorize(req, backup_rules.DELETE)
        share_backups.delete(req.context.runtime, req.context.auth, backup_id)
        render.redirect(resp, "/console/backups?notice=Backup+deletion+queued.")


class Messages:
    @signed_in
    def on_get(self, req, resp):
        authorize(req, message_rules.GET_ALL)
        rows = console_queries.messages(req.context.runtime, req.context.auth)
        render.page(req, resp, "messages.html", title="Messages", rows=rows)
