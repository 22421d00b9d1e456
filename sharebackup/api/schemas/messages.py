"""The message list's query (manila/api/v2/messages.py index): exact filters, the creation-time
window (2.52+), limit/offset and sorting. Unknown parameters are ignored, as Manila does;
a bad limit, offset, sort or time is a 400 (Manila gives a 500 for an unknown sort key)."""
from __future__ import annotations

import datetime as dt

from sharebackup.faults import Fault
from sharebackup.services.messages import FILTER_KEYS, SORT_KEYS

MAX_INT = 2 ** 31 - 1


def _non_negative(params: dict, name: str) -> int | None:
    if name not in params:
        return None
    try:
        number = int(str(params[name]).strip())
    except ValueError:
        raise Fault(400, f"{name} param must be an integer") from None
    if number < 0:
        raise Fault(400, f"{name} param must be positive")
    return min(number, MAX_INT)


def _time(params: dict, name: str) -> dt.datetime | None:
    if name not in params:
        return None
    try:
        value = dt.datetime.fromisoformat(params[name].strip())
    except ValueError:
        raise Fault(400, f"Invalid value specified for the query key: {name}") from None
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def list_query(params: dict, version, max_limit: int) -> dict:
    params = {k: (v[-1] if isinstance(v, list) else v) for k, v in params.items()}
    for key, value in params.items():
        if "\x00" in key or "\x00" in value:
            raise Fault(400, f"Invalid input received: Wrong '{key}' filter provided.")
    limit = _non_negative(params, "limit")
    query = {
        "limit": max_limit if limit is None else min(limit, max_limit),
        "limit_given": limit is not None,
        "offset": _non_negative(params, "offset") or 0,
        "sort_key": params.get("sort_key", "created_at"),
        "sort_dir": params.get("sort_dir", "desc").lower(),
        "filters": {key: params[key] for key in FILTER_KEYS if key in params},
        "created_since": None,
        "created_before": None,
    }
    if query["sort_dir"] not in ("asc", "desc"):
        raise Fault(400, f"Invalid input received: Wrong sorting data provided: sort key is "
                         f"'{query['sort_key']}' and sort direction is '{params.get('sort_dir')}'.")
    if query["sort_key"] not in SORT_KEYS:
        raise Fault(400, f"Invalid input received: Wrong sorting key provided - '{query['sort_key']}'.")
    if version.matches("2.52"):
        query["created_since"] = _time(params, "created_since")
        query["created_before"] = _time(params, "created_before")
    return query
