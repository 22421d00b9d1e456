"""Validation of share-backup requests, with Manila's messages and codes.

Where Manila answers 500 (a non-object ``backup_options``, a non-string restore target,
an unknown ``sort_key``) or writes what the database makes of it (names over 255
characters), these functions answer 400. Nothing here touches the database.
"""
from __future__ import annotations

import logging

from sharebackup.api.schemas.admin_actions import reset_status_value
from sharebackup.faults import Fault
from sharebackup.api.schemas.shares import MAX_NAME, _params, strict_bool, text
from sharebackup.services.share_backup_requests import CreateRequest, ListQuery

LOG = logging.getLogger(__name__)

# ``default`` is the local repository (config.repository_path); absent, null, "" and {}
# options mean the same one. Other names are checked against [backup] repositories by the service.
DEFAULT_BACKUP_TYPE = "default"
KNOWN_OPTIONS = ("backup_type",)

# Manila's reset_status states (AdminActionsMixin), plus ``restoring``, which the api-ref and
# the OpenStack CLI offer and Manila rejects.
RESET_STATUSES = ("creating", "available", "deleting", "error", "error_deleting", "restoring",
                  "migrating", "migrating_to", "server_migrating")

MAX_OFFSET = 2 ** 31 - 1

# sort_key -> model attribute. Manila accepts any column (and answers 500 for anything else,
# including availability_zone); fail_reason is never shown, so it is not a sort key here.
SORT_KEYS = {
    "id": "id", "created_at": "created_at", "updated_at": "updated_at", "deleted_at": "deleted_at",
    "deleted": "deleted", "user_id": "user_id", "project_id": "project_id", "share_id": "share_id",
    "size": "size", "host": "host", "topic": "topic", "name": "display_name",
    "display_name": "display_name", "description": "display_description",
    "display_description": "display_description", "progress": "progress",
    "restore_progress": "restore_progress", "status": "status", "backup_type": "backup_type",
    "availability_zone": "availability_zone", "availability_zone_id": "availability_zone",
}

# Query parameter -> filter key. Everyone may use these; the admin ones are dropped for others.
USER_FILTERS = {"name": "display_name", "display_name": "display_name",
                "description": "display_description", "display_description": "display_description",
                "name~": "display_name~", "display_name~": "display_name~",
                "description~": "display_description~", "display_description~": "display_description~",
                "status": "status", "share_id": "share_id", "topic": "topic"}
ADMIN_FILTERS = {"host": "host", "id": "id"}


def _share_id(value) -> str:
    if value is None or value == "":
        raise Fault(400, "'share_id' is missing from the request body.")
    if not isinstance(value, str) or len(value) > MAX_NAME or "\x00" in value:
        shown = value if isinstance(value, (str, int, float)) else type(value).__name__
        raise Fault(400, f"No share exists with ID {shown}.")
    return value


def backup_options(value) -> tuple[str | None, dict]:
    """(backup_type to store, options for the worker). Unknown keys are ignored (and logged)."""
    if value is None:
        return None, {}
    if not isinstance(value, dict):
        raise Fault(400, "Invalid backup_options: it must be an object.")
    unknown = sorted(str(k) for k in value if k not in KNOWN_OPTIONS)
    if unknown:
        LOG.info("share backup create: ignoring unknown backup_options %s", unknown)
    backup_type = value.get("backup_type")
    if backup_type is None or backup_type == "":
        return None, {}
    if not isinstance(backup_type, str) or len(backup_type) > 32 or "\x00" in backup_type:
        raise Fault(400, "Invalid backup_type: it must be a string of at most 32 characters.")
    return backup_type, {"backup_type": backup_type}


def create(body: dict) -> CreateRequest:
    """The ``share_backup`` object of POST /v2/share-backups (already known to be an object)."""
    share_id = _share_id(body.get("share_id"))
    backup_type, options = backup_options(body.get("backup_options"))
    return CreateRequest(share_id=share_id, name=text(body.get("name"), "name"),
                         description=text(body.get("description"), "description"),
                         backup_type=backup_type, backup_options=options)


def update(body: dict) -> dict:
    """PUT: ``name``/``description`` (what the clients send) and ``display_name``/
    ``display_description`` (what the API reference shows); the short names win."""
    values = {}
    for key, column in (("display_name", "display_name"), ("name", "display_name"),
                        ("display_description", "display_description"),
                        ("description", "display_description")):
        if key in body:
            values[column] = text(body[key], key)
    return values


def restore_target(value, version) -> str | None:
    """The share to restore into: None means the backup's own share. Before 2.91 the value
    is ignored; from 2.91 it is a share id string, and any falsy value means the source."""
    if not version.matches("2.91") or not value:
        return None
    if not isinstance(value, str):
        raise Fault(400, "Invalid restore target: it must be a share ID (a string) or null.")
    return value


def reset_status(value) -> str:
    return reset_status_value(value, RESET_STATUSES)


def _int_param(params: dict, name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        number = int(raw.strip())
    except ValueError:
        raise Fault(400, f"{name} param must be an integer") from None
    if number < 0:
        raise Fault(400, f"{name} param must be positive")
    return number


def list_query(req, is_admin: bool, max_limit: int) -> ListQuery:
    """GET /v2/share-backups[/detail]. Without ``limit`` the page is ``osapi_max_limit`` long
    (Manila: unbounded); keys a caller may not use are dropped silently, as Manila does."""
    params = _params(req)
    limit = min(_int_param(params, "limit", max_limit), max_limit)
    offset = _int_param(params, "offset", 0)
    if offset > MAX_OFFSET:
        raise Fault(400, f"offset param must be an integer no larger than {MAX_OFFSET}")
    sort_key = params.get("sort_key") or "created_at"
    sort_dir = (params.get("sort_dir") or "desc").lower()
    if sort_key not in SORT_KEYS:
        raise Fault(400, f"Wrong sorting key provided - '{sort_key}'.")
    if sort_dir not in ("asc", "desc"):
        raise Fault(400, f"Wrong sorting data provided: sort key is '{sort_key}' and sort direction "
                         f"is '{sort_dir}'.")
    query = ListQuery(filters={}, sort_key=SORT_KEYS[sort_key], sort_dir=sort_dir, limit=limit,
                      offset=offset, marker=params.get("marker") or None)
    allowed = {**USER_FILTERS, **ADMIN_FILTERS} if is_admin else USER_FILTERS
    for key, value in params.items():
        if key in allowed:
            query.filters[allowed[key]] = value
    if is_admin:
        flag = params.get("all_tenants", params.get("all_projects"))
        if flag is not None:
            # A fix: Manila reads any non-empty value, "0" and "false" included, as yes.
            query.all_tenants = True if flag == "" else strict_bool(flag, "all_tenants")
    return query
