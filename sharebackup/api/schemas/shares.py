"""Validation of share requests, with Manila's messages and codes.

Every function takes the already-extracted JSON value (or the request for queries) and
returns clean Python values, or raises a Fault (400/404/422). Nothing here touches the
database; lookups (share type, snapshot, zone) are the service's.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sharebackup.api.schemas.admin_actions import reset_status_value
from sharebackup.faults import Fault

MAX_NAME = 255
MAX_META_KEY = 255
MAX_META_VALUE = 1023
MAX_SIZE = 2 ** 31 - 1  # the size column is a 32-bit integer
MAX_OFFSET = 2 ** 62
TRUE_STRINGS = ("1", "t", "true", "on", "y", "yes")
FALSE_STRINGS = ("0", "f", "false", "off", "n", "no")

# Manila's share-reset_status states (api/openstack/wsgi.py AdminActionsMixin).
RESET_STATUSES = ("available", "creating", "deleting", "error", "error_deleting",
                  "migrating", "migrating_to", "server_migrating")

# Query parameters a non-admin may use (Manila's _get_share_search_options); others are dropped.
USER_FILTERS = {"display_name", "status", "share_server_id", "volume_type_id", "share_type_id",
                "snapshot_id", "host", "share_network_id", "is_public", "metadata", "extra_specs",
                "sort_key", "sort_dir", "share_group_id", "share_group_snapshot_id",
                "export_location_id", "export_location_path", "display_name~",
                "display_description~", "display_description", "limit", "offset",
                "is_soft_deleted", "mount_point_name", "with_count", "name", "description",
                "name~", "description~", "marker"}

# sort_key -> model attribute name
SORT_KEYS = {
    "id": "id", "created_at": "created_at", "updated_at": "updated_at", "status": "status",
    "size": "size", "host": "host", "share_proto": "share_proto", "project_id": "project_id",
    "user_id": "user_id", "availability_zone": "availability_zone", "name": "display_name",
    "display_name": "display_name", "description": "display_description",
    "display_description": "display_description", "share_type_id": "share_type_id",
    "volume_type_id": "share_type_id", "share_network_id": "share_network_id",
    "snapshot_id": "snapshot_id", "is_public": "is_public", "task_state": "task_state",
    "share_group_id": "share_group_id", "source_backup_id": "source_backup_id",
    "export_location": "export_location", "share_type": "share_type_id", "snapshot": "snapshot_id",
    "share_network": "share_network_id", "progress": "progress", "mount_point_name": "mount_point_name",
}


def strict_bool(value, name: str = "") -> bool:
    """oslo's bool_from_string(strict=True), with Manila's 400."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in TRUE_STRINGS:
            return True
        if lowered in FALSE_STRINGS:
            return False
    shown = value if isinstance(value, (str, int, float)) else type(value).__name__
    raise Fault(400, f"Unrecognized value '{shown}', acceptable values are: '0', '1', 'f', 'false', "
                     "'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'")


def text(value, name: str, limit: int = MAX_NAME) -> str | None:
    """An optional display field: a string of at most ``limit`` characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise Fault(400, f"{name} must be a string.")
    if len(value) > limit:
        raise Fault(400, f"{name} can only be {limit} characters long.")
    if "\x00" in value:
        raise Fault(400, f"{name} must not contain NUL characters.")
    return value


def identifier(value, name: str) -> str | None:
    """An optional id-like string (a uuid or a name)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_NAME or "\x00" in value:
        raise Fault(400, f"Invalid value for '{name}'.")
    return value


def size(value, message_value=None) -> int:
    """Manila: 'Share size '<v>' must be an integer and greater than 0'."""
    ok = False
    number = 0
    if isinstance(value, bool):
        ok = False
    elif isinstance(value, int):
        number, ok = value, True
    elif isinstance(value, str) and value.strip().lstrip("+-").isdigit() and len(value) < 40:
        number, ok = int(value), True
    if not ok or number <= 0:
        raise Fault(400, f"Share size '{value if message_value is None else message_value}' "
                         "must be an integer and greater than 0")
    if number > MAX_SIZE:
        raise Fault(400, f"Share size '{value}' is too large.")
    return number


def metadata(value) -> dict[str, str]:
    """A metadata object: string keys (1-255) and string values (<=1023)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Fault(400, "Invalid metadata: metadata must be a dict.")
    clean = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip():
            raise Fault(400, "Metadata property key is blank.")
        if len(key) > MAX_META_KEY:
            raise Fault(400, f"Metadata property key is greater than {MAX_META_KEY} characters.")
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise Fault(400, f"Metadata property value for key '{key}' must be a string.")
        item = str(item)
        if not item:
            raise Fault(400, "Metadata property value is blank.")
        if len(item) > MAX_META_VALUE:
            raise Fault(400, f"Metadata property value is greater than {MAX_META_VALUE} characters.")
        if "\x00" in key or "\x00" in item:
            raise Fault(400, "Metadata must not contain NUL characters.")
        clean[key] = item
    return clean


@dataclass
class CreateRequest:
    share_proto: str
    size: int | None
    name: str | None = None
    description: str | None = None
    share_type: str | None = None
    share_type_given: bool = False
    availability_zone: str | None = None
    metadata: dict = field(default_factory=dict)
    is_public: bool = False
    snapshot_id: str | None = None
    share_network_id: str | None = None
    share_group_id: str | None = None
    mount_point_name: str | None = None
    encryption_key_ref: str | None = None


def create(share: dict, version) -> CreateRequest:
    """The body of POST /v2/shares (already known to be an object)."""
    proto = share.get("share_proto")
    if not isinstance(proto, str) or not proto.strip():
        shown = proto if isinstance(proto, str) else (None if proto is None else type(proto).__name__)
        raise Fault(400, f"Invalid share protocol provided: {shown}. It is either disabled or unsupported.")
    snapshot_id = identifier(share.get("snapshot_id"), "snapshot_id")
    raw_size = share.get("size")
    clean_size = None if (raw_size is None and snapshot_id) else size(raw_size)
    name = text(share.get("name", share.get("display_name")), "name")
    description = text(share.get("description", share.get("display_description")), "description")
    if "share_type" in share and "volume_type" in share:  # Manila checks the keys, not the values
        raise Fault(400, "Cannot specify both share_type and volume_type")
    chosen = identifier(share.get("share_type", share.get("volume_type")), "share_type")
    az = identifier(share.get("availability_zone"), "availability_zone")
    is_public = strict_bool(share.get("is_public", False) if share.get("is_public") is not None else False,
                            "is_public")
    request = CreateRequest(
        share_proto=proto.strip().upper(), size=clean_size, name=name, description=description,
        share_type=chosen, share_type_given=bool(chosen), availability_zone=az,
        metadata=metadata(share.get("metadata")), is_public=is_public, snapshot_id=snapshot_id,
        share_network_id=identifier(share.get("share_network_id"), "share_network_id"),
        share_group_id=identifier(share.get("share_group_id"), "share_group_id"))
    hints = share.get("scheduler_hints")
    if hints is not None and version.matches("2.65") and not isinstance(hints, dict):
        raise Fault(400, "Invalid scheduler_hints: must be a dict.")
    if version.matches("2.84") and share.get("mount_point_name") is not None:
        mpn = text(share.get("mount_point_name"), "mount_point_name")
        if mpn and not all(c.isalnum() or c in "_-" for c in mpn):
            raise Fault(400, "Invalid mount_point_name: only letters, digits, '_' and '-' are allowed.")
        request.mount_point_name = mpn or None
    if version.matches("2.90") and share.get("encryption_key_ref") is not None:
        request.encryption_key_ref = identifier(share.get("encryption_key_ref"), "encryption_key_ref")
    return request


def update(share: dict) -> dict:
    """PUT /v2/shares/{id}: name/display_name, description/display_description, is_public."""
    values = {}
    for key, column in (("display_name", "display_name"), ("name", "display_name"),
                        ("display_description", "display_description"),
                        ("description", "display_description")):
        if key in share:
            values[column] = text(share[key], key)
    if "is_public" in share:
        values["is_public"] = strict_bool(share["is_public"], "is_public")
    return values


def new_size(value, action: str) -> int:
    """The body of extend/shrink: {"new_size": N}."""
    number = value.get("new_size") if isinstance(value, dict) else None
    if isinstance(number, bool) or not isinstance(number, (int, str)):
        raise Fault(400, "New share size must be specified as an integer.")
    if isinstance(number, str):
        stripped = number.strip()
        if not stripped.lstrip("+-").isdigit() or len(stripped) > 40:
            raise Fault(400, "New share size must be specified as an integer.")
        number = int(stripped)
    if number > MAX_SIZE:
        raise Fault(400, f"Invalid new size: {number} is too large.")
    return number


def force_flag(value) -> bool:
    if isinstance(value, dict) and value.get("force") is not None:
        return strict_bool(value["force"], "force")
    return False


def reset_status(value) -> str:
    return reset_status_value(value, RESET_STATUSES)


# Manila's TASK_STATE_STATUSES (common/constants.py); None clears the task state.
TASK_STATES = (None, "migration_starting", "migration_in_progress", "migration_completing",
               "migration_success", "migration_error", "migration_cancelled",
               "migration_cancel_in_progress", "migration_driver_starting",
               "migration_driver_in_progress", "migration_driver_phase1_done",
               "data_copying_starting", "data_copying_in_progress", "data_copying_completing",
               "data_copying_completed", "data_copying_cancelled", "data_copying_error")


def reset_task_state(value) -> str | None:
    if not isinstance(value, dict) or "task_state" not in value:
        raise Fault(400, "Must specify 'task_state'")
    state = value["task_state"]
    if state is not None and (not isinstance(state, str) or state not in TASK_STATES):
        raise Fault(400, "Invalid state. Valid states: " + ", ".join(str(s) for s in TASK_STATES) + ".")
    return state


def revert(value) -> str:
    """{"revert": {"snapshot_id": ...}}"""
    if not isinstance(value, dict):
        raise Fault(400, "Revert entity not found in request body.")
    if "snapshot_id" not in value:
        raise Fault(400, "Required parameter snapshot_id not found.")
    if not value.get("snapshot_id"):
        raise Fault(400, "Required parameter snapshot_id is empty.")
    snapshot_id = value["snapshot_id"]
    if not isinstance(snapshot_id, str) or len(snapshot_id) > MAX_NAME or "\x00" in snapshot_id:
        raise Fault(400, f"Snapshot {snapshot_id} could not be found.")
    return snapshot_id


@dataclass
class ManageRequest:
    export_path: str
    service_host: str
    protocol: str
    name: str | None = None
    description: str | None = None
    share_type: str | None = None
    is_public: bool = False
    driver_options: dict = field(default_factory=dict)


def manage(share: dict, version) -> ManageRequest:
    for required in ("export_path", "service_host", "protocol"):
        if required not in share:
            raise Fault(422, f"Required parameter {required} not found")
        if not share.get(required):
            raise Fault(422, f"Required parameter {required} is empty")
    export_path = share["export_path"]
    if isinstance(export_path, dict):
        export_path = export_path.get("path")
    if not isinstance(export_path, str) or "\x00" in export_path or len(export_path) > 4096:
        raise Fault(400, "Invalid export_path: it must be a string.")
    host = share["service_host"]
    if not isinstance(host, str) or "\x00" in host or len(host) > MAX_NAME:
        raise Fault(400, "Invalid service_host: it must be a string.")
    if "#" not in host or not host.split("#", 1)[1]:
        raise Fault(400, "service_host parameter should contain pool.")
    protocol = share["protocol"]
    if not isinstance(protocol, str):
        raise Fault(400, "Invalid share protocol provided.")
    options = share.get("driver_options") or {}
    if not isinstance(options, dict):
        raise Fault(400, "Invalid driver_options: must be a dict.")
    is_public = False
    if version.matches("2.8") and share.get("is_public") is not None:
        is_public = strict_bool(share["is_public"], "is_public")
    return ManageRequest(
        export_path=export_path, service_host=host, protocol=protocol.strip().upper(),
        name=text(share.get("name", share.get("display_name")), "name"),
        description=text(share.get("description", share.get("display_description")), "description"),
        share_type=identifier(share.get("share_type"), "share_type"), is_public=is_public,
        driver_options=options)


@dataclass
class ListQuery:
    filters: dict
    sort_key: str = "created_at"
    sort_dir: str = "desc"
    limit: int | None = None
    offset: int = 0
    all_tenants: bool = False
    is_public: bool = False
    is_soft_deleted: bool = False
    with_count: bool = False
    limit_given: int = 0
    marker: str | None = None


def _params(req) -> dict[str, str]:
    out = {}
    for key, value in req.params.items():
        if isinstance(value, list):
            value = value[0] if value else ""
        if "\x00" in key or "\x00" in value:
            raise Fault(400, f"Invalid value for '{key}'.")
        out[key] = value
    return out


def list_query(req, is_admin: bool, max_limit: int) -> ListQuery:
    """GET /v2/shares[/detail] parameters, checked the way Manila checks them."""
    params = _params(req)
    try:
        offset = int(params.get("offset", 0) or 0)
    except ValueError:
        raise Fault(400, "offset param must be an integer") from None
    try:
        limit = int(params.get("limit", max_limit) or max_limit)
    except ValueError:
        raise Fault(400, "limit param must be an integer") from None
    if limit < 0:
        raise Fault(400, "limit param must be positive")
    if offset < 0:
        raise Fault(400, "offset param must be positive")
    if not is_admin:
        params = {k: v for k, v in params.items() if k in USER_FILTERS}
    sort_key = params.pop("sort_key", "created_at") or "created_at"
    sort_dir = (params.pop("sort_dir", "desc") or "desc").lower()
    if sort_key not in SORT_KEYS:
        raise Fault(400, f"Wrong sorting key provided - '{sort_key}'.")
    if sort_dir not in ("asc", "desc"):
        raise Fault(400, f"Wrong sorting data provided: sort key is '{sort_key}' and sort direction "
                         f"is '{sort_dir}'.")
    query = ListQuery(filters={}, sort_key=SORT_KEYS[sort_key], sort_dir=sort_dir,
                      limit=min(limit, max_limit), offset=min(offset, MAX_OFFSET),
                      limit_given=int(params["limit"]) if params.get("limit") else 0)
    all_tenants = params.pop("all_tenants", None)
    if all_tenants is None:
        all_tenants = params.pop("all_projects", None)
    if all_tenants is not None and is_admin:
        query.all_tenants = True if all_tenants == "" else strict_bool(all_tenants, "all_tenants")
    if "is_public" in params:
        value = params.pop("is_public")
        query.is_public = value.lower() == "all" or strict_bool(value, "is_public")
    if "is_soft_deleted" in params:
        value = params.pop("is_soft_deleted")
        if req.context.version.matches("2.69"):
            query.is_soft_deleted = strict_bool(value, "is_soft_deleted")
    if params.get("marker"):
        # Our next links carry a marker; honour it (Manila ignores it and repeats the first page).
        query.marker = params.pop("marker")
    params.pop("marker", None)
    if "with_count" in params:
        query.with_count = req.context.version.matches("2.42") and strict_bool(params.pop("with_count"),
                                                                                "with_count")
    renames = {"name": "display_name", "description": "display_description",
               "name~": "display_name~", "description~": "display_description~",
               "volume_type_id": "share_type_id"}
    for key, value in params.items():
        key = renames.get(key, key)
        if key in ("display_name~", "display_description~", "display_description") and \
                not req.context.version.matches("2.36"):
            continue  # Manila drops these below 2.36
        if key in ("export_location_id", "export_location_path") and not req.context.version.matches("2.35"):
            continue
        if key in ("limit", "offset"):
            continue
        query.filters[key] = value
    return query




def metadata_body(body, key: str = "metadata") -> dict[str, str]:
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise Fault(400, "Malformed request body")
    return metadata(body[key])


def metadata_item_body(body) -> dict[str, str]:
    """PUT .../metadata/{key}: ``{"meta": {key: value}}`` (``metadata`` accepted too)."""
    if isinstance(body, dict) and "meta" not in body and "metadata" in body:
        return metadata_body(body, "metadata")
    return metadata_body(body, "meta")
