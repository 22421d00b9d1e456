"""Export location views (manila/api/views/export_locations.py)."""
from __future__ import annotations

from sharebackup.api.views.shares import timestamp


def _view(req, location, detail: bool) -> dict:
    version = req.context.version
    view = {"id": location.id, "path": location.path}
    if version.matches("2.14"):
        view["preferred"] = bool(location.preferred)
    if version.matches("2.87"):
        view["metadata"] = dict(location.metadata_ or {})
    if getattr(req.context.auth, "is_admin", False):
        # One instance per share here: the instance id is the share id.
        view["share_instance_id"] = location.share_id
        view["is_admin_only"] = bool(location.is_admin_only)
    if detail:
        view["created_at"] = timestamp(location.created_at)
        view["updated_at"] = timestamp(location.updated_at)
    return view


def index(req, locations) -> dict:
    return {"export_locations": [_view(req, el, False) for el in locations]}


def show(req, location) -> dict:
    return {"export_location": _view(req, location, True)}
