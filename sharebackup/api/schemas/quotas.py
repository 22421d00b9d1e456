"""Validation of the quota-set and quota-class-set requests, with Manila's messages and codes.

Manila's PUT /quota-sets reads ``{"quota_set": {...}}`` (a missing ``quota_set`` is an empty
update), reports unknown keys together (``Bad key(s) a,b in quota_set.``), converts values with
int() (so "5" is 5) and skips null/empty values. Booleans and fractions are refused here rather
than turned into 1/0 or truncated. Keys newer than the request's microversion are refused
as Manila does it: an ``elif`` chain by version, so 2.7-2.61 do not check the backups keys.
"""
from __future__ import annotations

from sharebackup.api.body import MALFORMED, read_json
from sharebackup.faults import Fault
from sharebackup.services.quotas import ALL_RESOURCES

NON_QUOTA_KEYS = ("tenant_id", "id", "force", "share_type")
_TRUE_STRINGS = ("1", "t", "true", "on", "y", "yes")
_MAX_ID = 255


def query_value(req, name: str) -> str:
    """The first non-blank value of a query parameter, or '' (Manila's parse_qs(...)[0])."""
    values = req.get_param_as_list(name) or []
    for value in values:
        if value != "":
            _check_identifier(name, value)
            return value
    return ""


def _check_identifier(name: str, value: str) -> None:
    if len(value) > _MAX_ID or "\x00" in value:
        raise Fault(400, f"Invalid value for '{name}'.")


def project_id(value: str) -> str:
    _check_identifier("project_id", value)
    return value


def class_name(value: str) -> str:
    _check_identifier("class_name", value)
    return value


def share_type_query(req) -> str:
    """?share_type= (quotas per share type, which this service does not keep)."""
    share_type = query_value(req, "share_type")
    if share_type and not req.context.version.matches("2.39"):
        raise Fault(400, "'share_type' key is not supported by this microversion. Use 2.39 or greater "
                         "microversion to be able to use 'share_type' quotas.")
    return share_type


def user_and_share_type(req) -> tuple[str, str]:
    share_type = share_type_query(req)
    user_id = query_value(req, "user_id")
    if user_id and share_type:
        raise Fault(400, "'user_id' and 'share_type' values are mutually exclusive")
    return user_id, share_type


def _to_int(key: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        if not (isinstance(value, float) and value.is_integer()):
            raise Fault(400, f"Quota '{_text(value)}' for {key} should be integer.")
    try:
        return int(value)
    except (ValueError, TypeError, OverflowError):
        raise Fault(400, f"Quota '{_text(value)}' for {key} should be integer.") from None


def _text(value) -> str:
    if isinstance(value, bool):
        return str(value)
    if value is None:
        return "None"
    return value if isinstance(value, str) else str(value)


def _in_range(key: str, value: int) -> int:
    # The column is a 32-bit integer; Manila's would overflow the same way.
    if value > 2**31 - 1:
        raise Fault(400, f"Quota '{value}' for {key} should be integer.")
    return value


def _section(req, key: str, required: bool) -> dict:
    body = read_json(req)
    if body is None:
        raise Fault(400, "The server could not comply with the request since it is either malformed "
                         "or otherwise incorrect.")
    if not isinstance(body, dict):
        raise Fault(400, MALFORMED)
    if key not in body:
        if required:
            raise Fault(400, f"Invalid input for field/attribute {key}. '{key}' is a required property")
        return {}
    section = body[key]
    if not isinstance(section, dict):
        raise Fault(400, f"Invalid input for field/attribute {key}. Value: {section}. "
                         f"{section!r} is not of type 'object'")
    return section


# (before this version, keys refused when truthy, "use" version), newest last.
_VERSIONED_KEYS = [
    ("2.40", ("share_groups", "share_group_snapshots")),
    ("2.53", ("share_replicas", "replica_gigabytes")),
    ("2.62", ("per_share_gigabytes",)),
    ("2.80", ("backups", "backup_gigabytes")),
    ("2.90", ("encryption_keys",)),
]


def _refuse_newer_keys(section: dict, keys: tuple[str, ...], version: str) -> None:
    for key in keys:
        if section.get(key):
            raise Fault(400, f"'{key}' key is not supported by this microversion. Use {version} or greater "
                             f"microversion to be able to use '{key}' quotas.")


def _check_microversion_keys(req, section: dict) -> None:
    version = req.context.version
    if not version.matches("2.7"):
        # The legacy os-quota-sets controller checks the groups and replicas keys only.
        _refuse_newer_keys(section, _VERSIONED_KEYS[0][1], "2.40")
        _refuse_newer_keys(section, _VERSIONED_KEYS[1][1], "2.53")
        return
    if not version.matches("2.39"):
        return  # only the share_type argument is checked below 2.39 (elif chain)
    for first, keys in _VERSIONED_KEYS:
        if not version.matches(first):
            _refuse_newer_keys(section, keys, first)
            return


def quota_set_update(req) -> tuple[dict[str, int], bool]:
    """The limits to set and ``force``, from ``{"quota_set": {...}}``."""
    section = _section(req, "quota_set", required=False)
    _check_microversion_keys(req, section)
    bad_keys = []
    force = False
    for key, value in section.items():
        if key not in ALL_RESOURCES and key not in NON_QUOTA_KEYS:
            bad_keys.append(key)
        elif key == "force":
            force = value if isinstance(value, bool) else str(value).strip().lower() in _TRUE_STRINGS
        elif key not in NON_QUOTA_KEYS and value:
            _to_int(key, value)
    if bad_keys:
        raise Fault(400, f"Bad key(s) {','.join(bad_keys)} in quota_set.")
    values = {}
    for key, value in section.items():
        if key in NON_QUOTA_KEYS or (not value and value != 0):
            continue
        values[key] = _in_range(key, _to_int(key, value))
    return values, force


def quota_class_set_update(req) -> dict[str, int]:
    """The class limits to set, from ``{"quota_class_set": {...}}``; other keys are ignored."""
    section = _section(req, "quota_class_set", required=True)
    values = {}
    for key, value in section.items():
        if key not in ALL_RESOURCES:
            continue
        number = _in_range(key, _to_int(key, value))
        if number < -1:
            raise Fault(400, "Quota limit must be -1 or greater.")
        values[key] = number
    return values
