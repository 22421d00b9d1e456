"""Share-backup views, per microversion as manila/api/views/share_backups.py builds them.

Summary: id, name, share_id, status. Detail adds description, size, timestamps, zone and
both progress fields; backup_type from 2.85; host and topic for admins only. Tempest
compares the key set exactly, so nothing else is ever added.
"""
from __future__ import annotations

from urllib.parse import urlencode

from sharebackup.api.views.shares import timestamp

COLLECTION = "share-backups"


def summary(req, backup) -> dict:
    return {"id": backup.id, "name": backup.display_name, "share_id": backup.share_id,
            "status": backup.status}


def detail(req, backup) -> dict:
    view = {
        "id": backup.id,
        "name": backup.display_name,
        "share_id": backup.share_id,
        "status": backup.status,
        "description": backup.display_description,
        "size": backup.size,
        "created_at": timestamp(backup.created_at),
        "updated_at": timestamp(backup.updated_at),
        "availability_zone": backup.availability_zone,
        "progress": backup.progress,
        "restore_progress": backup.restore_progress,
    }
    if req.context.version.matches("2.85"):
        view["backup_type"] = backup.backup_type
    if req.context.auth.is_admin:
        view["host"] = backup.host
        view["topic"] = backup.topic
    return view


def show(req, backup) -> dict:
    return {"share_backup": detail(req, backup)}


def _next_link(req, last_id: str, detailed: bool) -> list[dict]:
    """The same list (detail stays detail) from the marker on; Manila's points at the summary
    list and carries a marker it ignores."""
    params = {k: (v[-1] if isinstance(v, list) else v) for k, v in req.params.items()}
    params.pop("offset", None)  # the marker already says where the next page starts
    params["marker"] = last_id
    project = getattr(req.context, "url_project_id", None)
    segment = f"/{project}" if project else ""
    path = f"{COLLECTION}/detail" if detailed else COLLECTION
    return [{"rel": "next", "href": f"{req.prefix.rstrip('/')}/v2{segment}/{path}?{urlencode(params)}"}]


def index(req, backups, detailed: bool, more: bool) -> dict:
    """``more``: the page is full and rows follow it; only then is there a next link."""
    build = detail if detailed else summary
    body = {"share_backups": [build(req, backup) for backup in backups]}
    if more and backups:
        body["share_backup_links"] = _next_link(req, backups[-1].id, detailed)
    return body


def restore(backup_id: str, share_id: str) -> dict:
    return {"restore": {"backup_id": backup_id, "share_id": share_id}}
