"""Share-type extra specs: Manila's names, which are standard, and how a stored value reads.

Domain knowledge shared by the services (which decide with it) and the API's request checks
(which validate with it); it knows nothing of HTTP beyond raising Manila's fault for a
malformed boolean, as Manila does wherever it reads one.
"""
from __future__ import annotations

from sharebackup.core.errors import Invalid
from sharebackup.core.booleans import bool_from_string, spec_bool

DHSS = "driver_handles_share_servers"
SNAPSHOT_SUPPORT = "snapshot_support"
CREATE_FROM_SNAPSHOT = "create_share_from_snapshot_support"
REVERT_TO_SNAPSHOT = "revert_to_snapshot_support"
REPLICATION_TYPE = "replication_type"
MOUNT_SNAPSHOT = "mount_snapshot_support"
AVAILABILITY_ZONES = "availability_zones"
MAX_SIZE = "provisioning:max_share_size"
MIN_SIZE = "provisioning:min_share_size"
MAX_EXTEND_SIZE = "provisioning:max_share_extend_size"

REQUIRED = (DHSS,)
OPTIONAL = (SNAPSHOT_SUPPORT, CREATE_FROM_SNAPSHOT, REVERT_TO_SNAPSHOT, REPLICATION_TYPE, MOUNT_SNAPSHOT,
            AVAILABILITY_ZONES, MAX_SIZE, MIN_SIZE, MAX_EXTEND_SIZE)
TENANT_VISIBLE = REQUIRED + OPTIONAL
BOOLEAN = (DHSS, SNAPSHOT_SUPPORT, CREATE_FROM_SNAPSHOT, REVERT_TO_SNAPSHOT, MOUNT_SNAPSHOT)
REPLICATION_TYPES = ("writable", "readable", "dr")
# How a type behaves for a spec it does not set (shown to non-admins from 2.24).
INFERRED_OPTIONAL = {SNAPSHOT_SUPPORT: False, CREATE_FROM_SNAPSHOT: False, REVERT_TO_SNAPSHOT: False,
                     MOUNT_SNAPSHOT: False}


def invalid_extra_spec(reason: str) -> Invalid:
    return Invalid(f"Invalid extra_spec: {reason}.")


def parse_boolean_spec(key: str, value) -> bool:
    """Manila's parse_boolean_extra_spec: 'True', 'false', '<is> True', ... or 400."""
    parsed = spec_bool(value)
    if parsed is None:
        text = value if isinstance(value, str) else str(value)
        raise invalid_extra_spec(f"Invalid boolean extra spec {key} : {text}")
    return parsed


def spec_is_true(specs: dict, key: str) -> bool:
    """How a stored boolean spec behaves (missing or unreadable counts as False)."""
    if key not in specs:
        return False
    try:
        return parse_boolean_spec(key, specs[key])
    except Invalid:
        return False


def required_specs(specs: dict) -> dict:
    """Manila's get_valid_required_extra_specs: the required specs, or 400 when one is missing/bad."""
    missing = [key for key in REQUIRED if key not in specs]
    if missing:
        raise invalid_extra_spec(f"Required extra specs '{','.join(missing)}' not specified.")
    result = {}
    for key in REQUIRED:
        if bool_from_string(specs[key]) is None:
            raise invalid_extra_spec(f"Value of required extra_spec {key} is not valid")
        result[key] = specs[key]
    return result


def required_specs_or_empty(specs: dict) -> dict:
    try:
        return required_specs(specs)
    except Invalid:
        return {}


def _positive_int(value) -> bool:
    try:
        return int(str(value)) >= 1
    except ValueError:
        return False


def optional_spec_valid(key: str, value) -> bool | None:
    """None when ``key`` is not a standard optional spec; else whether ``value`` is valid.
    A malformed boolean raises Manila's 400 itself, as Manila does."""
    if key not in OPTIONAL:
        return None
    if key in BOOLEAN:
        parse_boolean_spec(key, value)
        return True
    if key == REPLICATION_TYPE:
        return value in REPLICATION_TYPES
    if key == AVAILABILITY_ZONES:
        return all(part.strip() for part in str(value).split(","))
    return _positive_int(value)


def sanitize(specs: dict) -> dict:
    """Stored form: every value a string (booleans as 'True'/'False'); zone lists trimmed."""
    out = {}
    for key, value in specs.items():
        text = str(value)
        if key == AVAILABILITY_ZONES:
            text = ",".join(part.strip() for part in text.split(",") if part)
        out[key] = text
    return out
