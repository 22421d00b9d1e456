"""Backup policies: the list and a create form; one policy with its shares (attach, detach) and
its run history (the same services and rules as /sharebackup/v1/backup-policies)."""
from __future__ import annotations

from sharebackup.api.console import render
from sharebackup.api.console.guard import form_of, signed_in
from sharebackup.api.console.pages_tenant import authorize
from sharebackup.policies import backup_policies as rules
from sharebackup.services import backup_policies, console_queries
from sharebackup.services.backup_policies import KEEP_COUNTS
from sharebackup.faults import Fault


def _values(form: dict) -> dict:
    retention = {}
    for key in KEEP_COUNTS:
        text = (form.get(key) or "").strip()
        if text:
            if not text.isdigit():
                raise Fault(400, f"{key} must be a whole number, 0 or more.")
            retention[key] = int(text)
    if (form.get("keep_within") or "").strip():
        retention["keep_within"] = form["keep_within"].strip()
    values = {"name": (form.get("name") or "").strip(), "schedule": (form.get("schedule") or "").strip(),
              "timezone": (form.get("timezone") or "UTC").strip(), "retention": retention,
              "description": (form.get("description") or "").strip() or None}
    if not values["name"] or not values["schedule"]:
        raise Fault(400, "A policy needs a name and a schedule.")
    return values


class Policies:
    @signed_in
    def on_get(self, req, resp):
        authorize(req, rules.GET_ALL)
        rows, _ = backup_policies.list_policies(req.context.runtime, req.context.auth, None, 200, False)
        render.page(req, resp, "policies.html", title="Policies", rows=rows, notice=req.get_param("notice"))

    @signed_in
    def on_post(self, req, resp):
        authorize(req, rules.CREATE)
        policy = backup_policies.create(req.context.runtime, req.context.auth, _values(form_of(req)))
        render.redirect(resp, f"/console/policies/{policy.id}?notice=Policy+created.")


class Policy:
    @signed_in
    def on_get(self, req, resp, policy_id):
        rt, ctx = req.context.runtime, req.context.auth
        authorize(req, rules.GET)
        policy = backup_policies.get(rt, ctx, policy_id)
        authorize(req, rules.RUNS)
        runs, _ = backup_policies.list_runs(rt, ctx, policy_id, None, 100)
        attached = {link.share_id for link in policy.shares}
        shares = console_queries.shares(rt, ctx)
        render.page(req, resp, "policy.html", title=f"Policy {policy.name}", policy=policy, runs=runs,
                    attached=[row for row in shares if row.share.id in attached],
                    candidates=[row for row in shares if row.share.id not in attached],
                    notice=req.get_param("notice"))


class PolicyShares:
    @signed_in
    def on_post(self, req, resp, policy_id):
        form = form_of(req)
        if form.get("action") == "remove":
            authorize(req, rules.DETACH)
            backup_policies.detach(req.context.runtime, req.context.auth, policy_id, form.get("share_id", ""))
            notice = "Share+detached."
        else:
            authorize(req, rules.ATTACH)
            backup_policies.attach(req.context.runtime, req.context.auth, policy_id, form.get("share_id", ""))
            notice = "Share+attached:+its+first+run+comes+at+the+next+scheduled+time."
        render.redirect(resp, f"/console/policies/{policy_id}?notice={notice}")


class PolicyDelete:
    @signed_in
    def on_post(self, req, resp, policy_id):
        authorize(req, rules.DELETE)
        backup_policies.delete(req.context.runtime, req.context.auth, policy_id)
        render.redirect(resp, "/console/policies?notice=Policy+deleted+(its+backups+stay).")
