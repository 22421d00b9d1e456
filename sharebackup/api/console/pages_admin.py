"""Admin pages: repositories (sizes, dedup and compression, last gc), the job queue (running,
queued, failed: attempts, worker, lease age), the workers alive, and a chart of backup volume
and failures per day. Only for callers the policy calls admin (context_is_admin)."""
from __future__ import annotations

from sharebackup import engine
from sharebackup.api.console import render
from sharebackup.api.console.charts import daily_bars
from sharebackup.api.console.guard import signed_in
from sharebackup.api.console.pages_tenant import authorize
from sharebackup.services import console_queries
from sharebackup.workflows import backup_repository

ADMIN = "context_is_admin"


def _repository_rows(rt) -> list[dict]:
    records = console_queries.repository_records(rt)
    rows = []
    for name in backup_repository.repositories(rt.config):
        record = records.get(name)
        row = {"name": name, "last_gc": record and record.last_finished_at, "stats": None, "problem": None,
               "last_check": record and record.last_check_at, "check_result": record and record.last_check_result}
        try:
            repo = backup_repository.open_existing_repository(rt.config, name)
            if repo is not None:
                row["stats"] = engine.stats(repo)
        except Exception as exc:  # noqa: BLE001 - an unreachable store is shown, not a 500
            row["problem"] = f"cannot be read: {type(exc).__name__}"
        rows.append(row)
    return rows


class Repositories:
    @signed_in
    def on_get(self, req, resp):
        authorize(req, ADMIN)
        render.page(req, resp, "admin_repositories.html", title="Repositories",
                    rows=_repository_rows(req.context.runtime))


class Jobs:
    @signed_in
    def on_get(self, req, resp):
        authorize(req, ADMIN)
        rt = req.context.runtime
        jobs = console_queries.jobs(rt)
        lease = float(rt.config.backup.job_lease_seconds)
        render.page(req, resp, "admin_jobs.html", title="Jobs", jobs=jobs,
                    ages={job.id: console_queries.lease_age(job, lease) for job in jobs},
                    workers=console_queries.workers(rt))


class Activity:
    @signed_in
    def on_get(self, req, resp):
        authorize(req, ADMIN)
        days = console_queries.daily_activity(req.context.runtime)
        render.page(req, resp, "admin_activity.html", title="Activity", days=days, chart=daily_bars(days))
