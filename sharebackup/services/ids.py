"""An id from a request that no row can have, so it is "not found" before any query: not a
string, a NUL (PostgreSQL text cannot hold one), or longer than the id columns."""
from __future__ import annotations


def bad_id(value, longest: int = 255) -> bool:
    return not isinstance(value, str) or "\x00" in value or len(value) > longest
