"""Backup-policy and run views of /sharebackup/v1 (times in UTC, as Manila prints them)."""
from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from sharebackup.api.views.shares import timestamp
from sharebackup.services.backup_policies import KEEP_COUNTS, schedule_of

ROOT = "/sharebackup/v1"


def _retention(stored: dict) -> dict:
    view = {key: int(stored.get(key) or 0) for key in KEEP_COUNTS}
    view["keep_within"] = stored.get("keep_within") or None
    return view


def _next_run_at(policy) -> str | None:
    """When the schedule next falls due (None while disabled or with no share attached)."""
    if not policy.enabled or not policy.shares:
        return None
    now = dt.datetime.now(dt.timezone.utc)
    return timestamp(schedule_of(policy).next_slot(now).replace(tzinfo=None))


def policy_view(policy) -> dict:
    return {
        "id": policy.id,
        "name": policy.name,
        "description": policy.description,
        "enabled": policy.enabled,
        "schedule": policy.schedule,
        "timezone": policy.timezone,
        "backup_type": policy.backup_type,
        "retention": _retention(policy.retention),
        "share_ids": [link.share_id for link in policy.shares],
        "project_id": policy.project_id,
        "user_id": policy.user_id,
        "created_at": timestamp(policy.created_at),
        "updated_at": timestamp(policy.updated_at),
        "next_run_at": _next_run_at(policy),
    }


def show(policy) -> dict:
    return {"backup_policy": policy_view(policy)}


def summary(policy) -> dict:
    return {"id": policy.id, "name": policy.name, "enabled": policy.enabled, "schedule": policy.schedule,
            "timezone": policy.timezone}


def next_link(req, path: str, last_id: str) -> list[dict]:
    params = {k: (v[-1] if isinstance(v, list) else v) for k, v in req.params.items()}
    params["marker"] = last_id
    return [{"rel": "next", "href": f"{req.prefix.rstrip('/')}{ROOT}/{path}?{urlencode(params)}"}]


def index(req, policies, more: bool, detailed: bool) -> dict:
    build = policy_view if detailed else summary
    body = {"backup_policies": [build(policy) for policy in policies]}
    if more and policies:
        body["backup_policies_links"] = next_link(req, "backup-policies" + ("/detail" if detailed else ""),
                                                  policies[-1].id)
    return body


def run_view(run) -> dict:
    return {
        "id": run.id,
        "policy_id": run.policy_id,
        "share_id": run.share_id,
        "scheduled_at": timestamp(run.scheduled_at),
        "state": run.state,
        "reason": run.reason,
        "backup_id": run.backup_id,
        "pruned_backup_ids": list(run.pruned_backup_ids or []),
        "created_at": timestamp(run.created_at),
        "updated_at": timestamp(run.updated_at),
    }


def runs(req, policy_id: str, rows, more: bool) -> dict:
    body = {"backup_policy_runs": [run_view(run) for run in rows]}
    if more and rows:
        body["backup_policy_runs_links"] = next_link(req, f"backup-policies/{policy_id}/runs", rows[-1].id)
    return body
