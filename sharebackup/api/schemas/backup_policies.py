"""Bodies and query strings of /sharebackup/v1/backup-policies, checked for shape and type.

Anything malformed is 400 with the field's name (our own API has no Manila 422 to copy);
what needs the configuration (the schedule's minimum, the repositories) the service checks.
"""
from __future__ import annotations

from sharebackup.api.body import require_body
from sharebackup.api.schemas.shares import MAX_NAME, _params, strict_bool, text
from sharebackup.faults import Fault
from sharebackup.services.backup_policies import KEEP_COUNTS, RETENTION_KEYS

FIELDS = ("name", "description", "enabled", "schedule", "timezone", "backup_type", "retention")
MAX_KEEP = 1_000_000


def wrapped(req, key: str) -> dict:
    body = require_body(req)
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise Fault(400, f"The body must be an object with a '{key}' object.")
    return body[key]


def _required_text(value, name: str, limit: int = MAX_NAME) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise Fault(400, f"'{name}' is required.")
    return text(value, name, limit)


def _retention(value) -> dict:
    if not isinstance(value, dict):
        raise Fault(400, "retention must be an object with keep_last, keep_hourly, keep_daily, keep_weekly, "
                         "keep_monthly, keep_yearly or keep_within.")
    unknown = sorted(str(key) for key in value if key not in RETENTION_KEYS)
    if unknown:
        raise Fault(400, f"Unknown retention keys {unknown}; known: {', '.join(RETENTION_KEYS)}.")
    out = {}
    for key in KEEP_COUNTS:
        if key in value and value[key] is not None:
            count = value[key]
            if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_KEEP:
                raise Fault(400, f"retention {key} must be a whole number from 0 to {MAX_KEEP}.")
            out[key] = count
    if "keep_within" in value:
        out["keep_within"] = text(value["keep_within"], "retention keep_within", 64) or None
    return out


def _field(key: str, value):
    if key == "name":
        return _required_text(value, "name")
    if key == "schedule":
        return _required_text(value, "schedule")
    if key == "timezone":
        return _required_text(value, "timezone", 64)
    if key == "description":
        return text(value, "description")
    if key == "backup_type":
        return text(value, "backup_type", 32) or None
    if key == "enabled":
        return strict_bool(value, "enabled")
    return _retention(value)


def _fields(body: dict) -> dict:
    unknown = sorted(str(key) for key in body if key not in FIELDS)
    if unknown:
        raise Fault(400, f"Unknown backup_policy fields {unknown}; known: {', '.join(FIELDS)}.")
    return {key: _field(key, value) for key, value in body.items()}


def create(body: dict) -> dict:
    values = _fields(body)
    for key in ("name", "schedule", "retention"):
        if key not in values:
            raise Fault(400, f"'{key}' is required.")
    return values


def update(body: dict) -> dict:
    values = _fields(body)
    if not values:
        raise Fault(400, f"Nothing to update: give one or more of {', '.join(FIELDS)}.")
    return values


def share_id(req) -> str:
    body = require_body(req)
    value = body.get("share_id") if isinstance(body, dict) else None
    if value is None:
        raise Fault(400, "The body must be an object with a 'share_id'.")
    return _required_text(value, "share_id", 36)


def page(req, max_limit: int) -> tuple[str | None, int, bool]:
    """(marker, limit, all_tenants) of a list."""
    params = _params(req)
    limit = max_limit
    if "limit" in params:
        try:
            limit = int(params["limit"])
        except ValueError:
            raise Fault(400, "limit must be a whole number, 0 or more.") from None
        if limit < 0:
            raise Fault(400, "limit must be a whole number, 0 or more.")
        limit = min(limit, max_limit)
    all_tenants = strict_bool(params["all_tenants"], "all_tenants") if "all_tenants" in params else False
    return params.get("marker") or None, limit, all_tenants
