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
from sharebackup.core.errors import Invalid
from sharebackup.services.extra_specs import (  # noqa: F401 - the spec vocabulary, for the API layer too
    DHSS, SNAPSHOT_SUPPORT, CREATE_FROM_SNAPSHOT, REVERT_TO_SNAPSHOT, REPLICATION_TYPE,
    MOUNT_SNAPSHOT, AVAILABILITY_ZONES, MAX_SIZE, MIN_SIZE, MAX_EXTEND_SIZE, REQUIRED, OPTIONAL,
    TENANT_VISIBLE, BOOLEAN, REPLICATION_TYPES, INFERRED_OPTIONAL, bool_from_string,
    invalid_extra_spec, parse_boolean_spec, spec_is_true, required_specs, required_specs_or_empty,
    optional_spec_valid, sanitize)

_KEY_NAME = re.compile(r"^[a-zA-Z0-9\-_:. /]{1,255}$")


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
    except (Fault, Invalid) as refused:
        raise Fault(400, f"Invalid share type: {refused.message}.") from None
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
