"""Request validation for share snapshots: bodies, list query, admin actions."""
from __future__ import annotations

import ast

from sharebackup.api.schemas.admin_actions import reset_status_value
from sharebackup.faults import Fault
from sharebackup.api.schemas.share_types import bool_from_string

MAX_INT = 2 ** 31 - 1

# Columns a list may be sorted by (Manila accepts any column of the snapshot or its instance).
SORT_KEYS = {"id", "created_at", "updated_at", "share_id", "size", "share_size", "display_name",
             "display_description", "project_id", "user_id", "share_proto", "status", "progress"}
SORT_ALIASES = {"name": "display_name", "description": "display_description"}

# Filters a non-admin may use (Manila's _get_snapshots_search_options); admins may add these.
USER_FILTERS = ("display_name", "status", "share_id", "size", "display_name~", "display_description~",
                "display_description", "metadata")
ADMIN_FILTERS = ("project_id", "user_id", "id", "share_proto", "progress")

# Manila's AdminActionsMixin: the states reset_status accepts.
RESET_STATUSES = ("creating", "available", "deleting", "error", "error_deleting", "migrating",
                  "migrating_to", "server_migrating", "server_migrating_to")


def _text(value, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Fault(400, f"Invalid input received: {field} must be a string.")
    if len(value) > 255:
        raise Fault(400, f"Invalid input received: {field} can only be 255 characters long.")
    return value


def _metadata(value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Fault(400, "Invalid input received: Invalid metadata.")
    for key, item in value.items():
        if not key or len(key) > 255:
            raise Fault(400, "Invalid input received: Metadata property key blank or greater than 255 "
                             "characters.")
        if not isinstance(item, str) or len(item) > 1023:
            raise Fault(400, "Invalid input received: Metadata property value must be a string of at most "
                             "1023 characters.")
    return dict(value)


def create_request(entity: dict, version) -> dict:
    """The ``snapshot`` object of POST /snapshots (``force`` is accepted and ignored, as in Manila v2)."""
    share_id = entity.get("share_id")
    if not share_id:
        raise Fault(400, "Invalid input received: share_id must be specified.")
    if not isinstance(share_id, str):
        raise Fault(400, "Invalid input received: share_id must be a string.")
    name = entity["name"] if "name" in entity else entity.get("display_name")
    description = entity["description"] if "description" in entity else entity.get("display_description")
    metadata = _metadata(entity.get("metadata")) if version.matches("2.73") else {}
    return {"share_id": share_id, "display_name": _text(name, "name"),
            "display_description": _text(description, "description"), "metadata": metadata}


def update_request(entity: dict) -> dict:
    """PUT /snapshots/{id}: display_name / display_description (name / description accepted too)."""
    update = {}
    for field, aliases in (("display_name", ("display_name", "name")),
                           ("display_description", ("display_description", "description"))):
        for alias in aliases:
            if alias in entity:
                update[field] = _text(entity[alias], field)
                break
    return update


def _non_negative(params: dict, name: str) -> int | None:
    if name not in params:
        return None
    value = params.pop(name)
    try:
        number = int(str(value).strip())
    except ValueError:
        raise Fault(400, f"{name} param must be an integer") from None
    if number < 0:
        raise Fault(400, f"{name} param must be positive")
    return min(number, MAX_INT)


def list_query(params: dict, version, is_admin: bool, max_limit: int) -> dict:
    """The snapshot list's query: filters, pagination, sorting, all_tenants, with_count."""
    params = {k: (v[-1] if isinstance(v, list) else v) for k, v in params.items()}
    for key, value in params.items():
        if "\x00" in key or "\x00" in value:
            raise Fault(400, f"Invalid input received: Wrong '{key}' filter provided.")
    if not version.matches("2.36"):
        for key in ("name~", "description~", "description"):
            params.pop(key, None)
    with_count = False
    if version.matches("2.79") and "with_count" in params:
        with_count = bool_from_string(params.pop("with_count"), default=False)
    params.pop("with_count", None)
    limit = _non_negative(params, "limit")
    offset = _non_negative(params, "offset") or 0
    limit = max_limit if limit is None else min(limit, max_limit)
    sort_key = params.pop("sort_key", "created_at")
    sort_dir = params.pop("sort_dir", "desc")
    sort_key = SORT_ALIASES.get(sort_key, sort_key)
    if sort_dir.lower() not in ("asc", "desc"):
        raise Fault(400, f"Invalid input received: Wrong sorting data provided: sort key is '{sort_key}' "
                         f"and sort direction is '{sort_dir}'.")
    if sort_key not in SORT_KEYS:
        raise Fault(400, f"Invalid input received: Wrong sorting key provided - '{sort_key}'.")
    all_tenants = False
    for key in ("all_tenants", "all_projects"):
        if key in params:
            all_tenants = bool(bool_from_string(params.pop(key), default=False)) or all_tenants
    for key, db_key in (("name", "display_name"), ("description", "display_description"),
                        ("name~", "display_name~"), ("description~", "display_description~")):
        if key in params:
            params[db_key] = params.pop(key)
    metadata = None
    if "metadata" in params:
        raw = params.pop("metadata")
        if version.matches("2.73"):
            try:
                metadata = ast.literal_eval(raw)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                metadata = None
            if not isinstance(metadata, dict):
                raise Fault(400, "Invalid value for metadata filter.")
    allowed = USER_FILTERS + (ADMIN_FILTERS if is_admin else ())
    filters = {k: v for k, v in params.items() if k in allowed}
    if "size" in filters:
        try:
            filters["size"] = int(filters["size"])
        except ValueError:
            raise Fault(400, f"Invalid input received: Wrong 'size' filter provided: '{filters['size']}'.") from None
    for key, value in filters.items():
        if value == "":
            raise Fault(400, f"Invalid input received: Wrong '{key}' filter provided: '{value}'.")
    return {"filters": filters, "metadata": metadata, "limit": limit, "offset": offset,
            "sort_key": sort_key, "sort_dir": sort_dir.lower(), "all_tenants": all_tenants and is_admin,
            "with_count": with_count}


def reset_status_request(value) -> str:
    return reset_status_value(value, RESET_STATUSES)
