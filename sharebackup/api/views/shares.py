"""The share views, field by field as manila/api/views/shares.py builds them per microversion."""
from __future__ import annotations

from urllib.parse import urlencode

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


def timestamp(value):
    return value.strftime(TIME_FORMAT) if value is not None else None


def _spec(share, key: str, default=None):
    share_type = share.share_type
    return share_type.spec_is_true(key, default) if share_type is not None else default


def _project_segment(req) -> str:
    project = getattr(req.context, "url_project_id", None)
    return f"/{project}" if project else ""


def links(req, share_id: str, collection: str = "shares") -> list[dict]:
    base = req.prefix.rstrip("/")
    project = _project_segment(req)
    return [{"rel": "self", "href": f"{base}/v2{project}/{collection}/{share_id}"},
            {"rel": "bookmark", "href": f"{base}{project}/{collection}/{share_id}"}]


def summary(req, share) -> dict:
    return {"id": share.id, "name": share.display_name, "links": links(req, share.id)}


def detail(req, share) -> dict:
    version = req.context.version
    is_admin = bool(getattr(req.context.auth, "is_admin", False))
    type_name = share.share_type.name if share.share_type is not None else None
    paths = [el.path for el in share.export_locations if not el.is_admin_only or is_admin]
    view = {
        "id": share.id,
        "size": share.size or None,
        "availability_zone": share.availability_zone,
        "created_at": timestamp(share.created_at),
        "status": share.status,
        "name": share.display_name,
        "description": share.display_description,
        "project_id": share.project_id,
        "snapshot_id": share.snapshot_id,
        "share_network_id": share.share_network_id,
        "share_proto": share.share_proto,
        "export_location": paths[0] if paths else None,
        "metadata": dict(share.metadata_ or {}),
        "share_type": type_name if type_name is not None else share.share_type_id,
        "volume_type": type_name if type_name is not None else share.share_type_id,
        "links": links(req, share.id),
        "is_public": share.is_public,
        "export_locations": paths,
    }
    _fields_up_to_2_32(view, share, version, type_name)
    _fields_from_2_54(view, share, version)
    if is_admin:
        view["share_server_id"] = None  # the local driver has no share servers
        view["host"] = share.host
    return view


def _fields_up_to_2_32(view: dict, share, version, type_name) -> None:
    """The share view's changes of microversions 2.2 to 2.32, in order."""
    snapshot_support = _spec(share, "snapshot_support", False)
    if version.matches("2.2"):
        view["snapshot_support"] = snapshot_support
    if version.matches("2.5"):
        view["task_state"] = share.task_state
    if version.matches("2.6"):
        view["share_type"] = share.share_type_id
        view["share_type_name"] = type_name
    if version.matches("2.9"):
        view.pop("export_location")
        view.pop("export_locations")
    if version.matches("2.10"):
        view["access_rules_status"] = "active"
    if version.matches("2.11"):
        replication = share.share_type.specs.get("replication_type") if share.share_type else None
        view["replication_type"] = replication
        view["has_replicas"] = False
    if version.matches("2.16"):
        view["user_id"] = share.user_id
    if version.matches("2.24"):
        view["create_share_from_snapshot_support"] = _spec(share, "create_share_from_snapshot_support",
                                                           snapshot_support)
    if version.matches("2.27"):
        view["revert_to_snapshot_support"] = _spec(share, "revert_to_snapshot_support", False)
    if version.matches("2.31"):
        view["share_group_id"] = share.share_group_id
        view["source_share_group_snapshot_member_id"] = None
    if version.matches("2.32"):
        view["mount_snapshot_support"] = _spec(share, "mount_snapshot_support", False)


def _fields_from_2_54(view: dict, share, version) -> None:
    """The share view's changes of microversions 2.54 and later, in order."""
    if version.matches("2.54"):
        view["progress"] = share.progress
    elif share.status == "creating_from_snapshot":
        view["status"] = "creating"
    if version.matches("2.69"):
        view["is_soft_deleted"] = share.is_soft_deleted
        view["scheduled_to_be_deleted_at"] = timestamp(share.scheduled_to_be_deleted_at)
    if version.matches("2.80"):
        view["source_backup_id"] = share.source_backup_id
    if version.matches("2.84"):
        view["mount_point_name"] = share.mount_point_name
    if version.matches("2.90"):
        view["encryption_key_ref"] = share.encryption_key_ref


def show(req, share) -> dict:
    return {"share": detail(req, share)}


def index(req, shares, detailed: bool, limit_given: int = 0, count: int | None = None) -> dict:
    builder = detail if detailed else summary
    body = {"shares": [builder(req, share) for share in shares]}
    if count:  # Manila leaves a zero count out
        body["count"] = count
    if limit_given and shares and len(shares) == limit_given:
        params = {k: (v[0] if isinstance(v, list) else v) for k, v in req.params.items()}
        params["marker"] = shares[-1].id
        project = _project_segment(req)
        body["shares_links"] = [{"rel": "next", "href": (f"{req.prefix.rstrip('/')}/v2{project}/shares?"
                                                         + urlencode(params))}]
    return body


def metadata(values: dict) -> dict:
    return {"metadata": dict(values or {})}


def metadata_item(key: str, value: str) -> dict:
    return {"meta": {key: value}}
