"""Request validation for share types, their extra specs and project access.

Pure functions over the decoded body or query: each returns clean values or raises
Manila's fault. Where Manila itself would crash (a 500) on a malformed value, the answer
here is a 400 with a message in Manila's style.
"""
from __future__ import annotations

import ast
import re
import uuid

from sharebackup.faults import Fault

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

_TRUE = ("1", "t", "true", "on", "y", "yes")
_FALSE = ("0", "f", "false", "off", "n", "no")
_KEY_NAME = re.compile(r"^[a-zA-Z0-9\-_:. /]{1,255}$")
_IS_BOOL = re.compile(r"^<is>\s*(?P<value>True|False)$", re.IGNORECASE)


def bool_from_string(value, strict: bool = False, default=None):
    """oslo's bool_from_string: True/False for the known words, else default (or ValueError)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if strict:
        raise ValueError(value)
    return default


def invalid_extra_spec(reason: str) -> Fault:
    return Fault(400, f"Invalid extra_spec: {reason}.")


def parse_boolean_spec(key: str, value) -> bool:
    """Manila's parse_boolean_extra_spec: 'True', 'false', '<is> True', ... or 400."""
    text = value if isinstance(value, str) else str(value)
    match = _IS_BOOL.match(text.strip())
    if match:
        text = match.group("value")
    try:
        return bool_from_string(text, strict=True)
    except ValueError:
        raise invalid_extra_spec(f"Invalid boolean extra spec {key} : {text}") from None


def spec_is_true(specs: dict, key: str) -> bool:
    """How a stored boolean spec behaves (missing or unreadable counts as False)."""
    if key not in specs:
        return False
    try:
        return parse_boolean_spec(key, specs[key])
    except Fault:
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
    except Fault:
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


def _valid_string(value) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 255


def check_spec_values(specs: dict) -> None:
    """The extra-specs API's per-item check (_verify_extra_specs without the required set)."""
    for key, value in specs.items():
        ok = (_valid_string(key) and (_valid_string(value) or isinstance(value, bool))
              and (key not in REQUIRED or bool_from_string(value) is not None)
              and optional_spec_valid(key, value) in (None, True))
        if not ok:
            raise Fault(400, f"Invalid extra_spec: {key}: {value}")


def check_key_names(keys) -> None:
    if not all(isinstance(key, str) and _KEY_NAME.match(key) for key in keys):
        raise Fault(400, "Key names can only contain alphanumeric characters, underscores, periods, "
                         "colons and hyphens.")


def _type_entity(body) -> dict:
    """``{"share_type": {...}}`` or its old alias ``{"volume_type": {...}}``; else a plain 400."""
    if isinstance(body, dict):
        for key in ("share_type", "volume_type"):
            if isinstance(body.get(key), dict):
                return body[key]
    raise Fault(400)


def _is_public(value, default):
    if value is None:
        return default
    try:
        return bool_from_string(value, strict=True)
    except ValueError:
        raise Fault(400, "share_type_access:is_public has a non-boolean value.") from None


def create_request(body, version) -> dict:
    """name, description, is_public and extra_specs of POST /types, validated as Manila does."""
    entity = _type_entity(body)
    name = entity.get("name")
    specs = entity.get("extra_specs")
    specs = {} if specs is None else specs
    description = entity.get("description")
    if description is not None and not isinstance(description, str):
        raise Fault(400, "Type name or description is not valid.")
    if description and not version.matches("2.41"):
        raise Fault(400, "'description' key is not supported by this microversion. Use 2.41 or greater "
                         "microversion to be able to use 'description' in share type.")
    raw_public = entity.get("os-share-type-access:is_public", entity.get("share_type_access:is_public"))
    if not isinstance(name, str) or name == "" or len(name) > 255 or (description and len(description) > 255):
        raise Fault(400, "Type name or description is not valid.")
    if not isinstance(specs, dict):
        raise Fault(400, f"Invalid extra_spec: extra_specs: {specs}")
    specs = dict(specs)
    if not version.matches("2.24") and SNAPSHOT_SUPPORT not in specs:
        specs[SNAPSHOT_SUPPORT] = True  # the default before the spec became optional
    required_specs(specs)
    for key, value in specs.items():
        if not (_valid_string(key) and (isinstance(value, (str, bool, int, float)) and len(str(value)) <= 1023)):
            raise Fault(400, f"Invalid extra_spec: {key}: {value}")
    try:
        for key, value in specs.items():
            if optional_spec_valid(key, value) is False:
                raise invalid_extra_spec(f"Value of optional extra_spec {key} is not valid.")
    except Fault as fault:
        raise Fault(400, f"Invalid share type: {fault.message}.") from None
    return {"name": name, "description": description or None, "is_public": _is_public(raw_public, True),
            "extra_specs": sanitize(specs)}


def update_request(body) -> dict:
    """PUT /types/{id} (2.50): any of name, description, share_type_access:is_public."""
    entity = _type_entity(body)
    name = entity.get("name")
    description = entity.get("description")
    is_public = _is_public(entity.get("share_type_access:is_public"), None)
    if name is not None:
        if not isinstance(name, str) or len(name.strip()) == 0:
            raise Fault(400, "Share type name cannot be empty.")
        if len(name) > 255:
            raise Fault(400, "Share type name cannot be greater than 255 characters in length.")
    if description is not None and not isinstance(description, str):
        raise Fault(400, "Share type description is not valid.")
    if description and len(description) > 255:
        raise Fault(400, "Share type description cannot be greater than 255 characters in length.")
    if name is None and description is None and is_public is None:
        raise Fault(400, "Specify share type name, description, share_type_access:is_public or a "
                         "combination thereof.")
    return {"name": name, "description": description, "is_public": is_public}


def parse_is_public(value):
    """The list's is_public query: True (default), False, or None for 'all'."""
    if value is None:
        return True
    if str(value).lower() == "all":
        return None
    try:
        return bool_from_string(value, strict=True)
    except ValueError:
        raise Fault(400, f"Invalid is_public filter [{value}]") from None


def extra_specs_filter(value, version) -> dict:
    """The list's extra_specs query (2.43): a Python-literal dict, as manilaclient sends it."""
    if not value:
        return {}
    if not version.matches("2.43"):
        raise Fault(400, "Filter by 'extra_specs' is not supported by this microversion. Use 2.43 or "
                         "greater microversion to be able to use filter search by 'extra_specs.")
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        parsed = None
    if not isinstance(parsed, dict):
        raise Fault(400, f"Invalid extra_specs filter [{value}]")
    return {str(k): v for k, v in parsed.items()}


def create_specs_request(body) -> dict:
    """POST /types/{id}/extra_specs: ``{"extra_specs": {...}}``."""
    if not isinstance(body, dict) or not isinstance(body.get("extra_specs"), dict):
        raise Fault(400)
    specs = body["extra_specs"]
    check_spec_values(specs)
    check_key_names(specs.keys())
    return specs


def update_spec_request(body, key: str) -> dict:
    """PUT /types/{id}/extra_specs/{key}: ``{"<key>": value}``."""
    if not body:
        raise Fault(400, "Request body empty")
    if not isinstance(body, dict) or key not in body:
        raise Fault(400, "Request body and URI mismatch")
    if len(body) > 1:
        raise Fault(400, "Request body contains too many items")
    check_spec_values(body)
    return body


def is_uuid_like(value) -> bool:
    if not isinstance(value, str):
        return False
    cleaned = value.replace("urn:", "").replace("uuid:", "").strip("{}").replace("-", "").lower()
    try:
        return uuid.UUID(value).hex == cleaned
    except (TypeError, ValueError, AttributeError):
        return False


def access_request(value, action: str) -> str:
    """addProjectAccess / removeProjectAccess: ``{"project": "<uuid>"}``."""
    if not isinstance(value, dict):
        raise Fault(400)
    project = value.get("project")
    if not is_uuid_like(project):
        raise Fault(400, f"Bad project format: project is not in proper format ({project})")
    return project
