"""Snapshot views, field by field as manila/api/views/share_snapshots.py builds them."""
from __future__ import annotations

from urllib.parse import urlencode

from sharebackup.api.views.shares import links, timestamp

COLLECTION = "snapshots"


def summary(req, snapshot) -> dict:
    return {"id": snapshot.id, "name": snapshot.display_name, "links": links(req, snapshot.id, COLLECTION)}


def detail(req, snapshot) -> dict:
    version = req.context.version
    view = {
        "id": snapshot.id,
        "share_id": snapshot.share_id,
        "share_size": snapshot.share_size,
        "created_at": timestamp(snapshot.created_at),
        "status": snapshot.status,
        "name": snapshot.display_name,
        "description": snapshot.display_description,
        "size": snapshot.size,
        "share_proto": snapshot.share_proto,
        "links": links(req, snapshot.id, COLLECTION),
    }
    if version.matches("2.12") and req.context.auth.is_admin:
        view["provider_location"] = snapshot.driver_path
    if version.matches("2.17"):
        view["user_id"] = snapshot.user_id
        view["project_id"] = snapshot.project_id
    if version.matches("2.73"):
        view["metadata"] = dict(snapshot.metadata_ or {})
    return view


def show(req, snapshot) -> dict:
    return {"snapshot": detail(req, snapshot)}


def _next_link(req, last_id: str) -> list[dict]:
    params = {k: (v[-1] if isinstance(v, list) else v) for k, v in req.params.items()}
    params["marker"] = last_id
    project = getattr(req.context, "url_project_id", None)
    segment = f"/{project}" if project else ""
    return [{"rel": "next", "href": f"{req.prefix.rstrip('/')}/v2{segment}/{COLLECTION}?{urlencode(params)}"}]


def index(req, snapshots, limit: int, total: int | None, is_detail: bool) -> dict:
    build = detail if is_detail else summary
    body = {"snapshots": [build(req, snapshot) for snapshot in snapshots]}
    if snapshots and limit == len(snapshots):
        body["share_snapshots_links"] = _next_link(req, snapshots[-1].id)
    if total is not None:
        body["count"] = total
    return body
