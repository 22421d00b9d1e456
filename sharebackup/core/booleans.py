"""How Manila reads a boolean: oslo's bool_from_string, and a share-type extra spec's value.

One definition for every reader. Before, the database model read `<is>True` (no space) as
false while the services read it as true, so a share showed snapshot_support false and
still took snapshots.
"""
from __future__ import annotations

import re

_TRUE = ("1", "t", "true", "on", "y", "yes")
_FALSE = ("0", "f", "false", "off", "n", "no")
# Manila's parse_boolean_extra_spec also takes the scheduler's "<is> True" form
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


def spec_bool(value) -> bool | None:
    """A boolean extra spec's value as Manila reads it ("True", "<is> True", "<is>false", "1"...);
    None when it is no boolean at all."""
    text = value if isinstance(value, str) else str(value)
    match = _IS_BOOL.match(text.strip())
    return bool_from_string(match.group("value") if match else text)
