"""Request bodies as Manila reads them.

Only ``application/json`` carries a body: any other (or no) Content-Type is read as no
body at all, exactly as Manila's get_body does. The size limit is checked before reading.

Every string of a body, keys included, is checked here once, before any handler sees it:
JSON can spell text that is not Unicode (a lone surrogate, ``"\\ud800"``), which no database
stores and no response can encode, and NUL, which PostgreSQL text cannot hold.
"""
from __future__ import annotations

import json

from sharebackup.api.json_media import SURROGATE
from sharebackup.faults import Fault

MALFORMED = "Malformed request body"
NOT_UNICODE = f"{MALFORMED}: a string holds a lone surrogate, which is not Unicode text."
HAS_NUL = f"{MALFORMED}: a string holds a NUL character."
_NO_BODY = object()


def refuse_oversized(req) -> None:
    """Manila's sizelimit filter: a declared body over the cap is 413 before anything looks at it."""
    length = req.content_length
    if length is not None and length > req.context.runtime.config.api.max_request_body_bytes:
        raise Fault(413, "Request is too large.")


def read_json(req) -> object:
    """The parsed JSON body, or None when the request carries none."""
    cached = getattr(req.context, "_json_body", _NO_BODY)
    if cached is not _NO_BODY:
        return cached
    refuse_oversized(req)
    limit = req.context.runtime.config.api.max_request_body_bytes
    content_type = (req.content_type or "").split(";")[0].strip().lower()
    raw = req.bounded_stream.read(limit + 1)
    if len(raw) > limit:
        raise Fault(413, "Request is too large.")
    if content_type != "application/json" or not raw.strip():
        body = None
    else:
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise Fault(400, MALFORMED) from None
        _refuse_bad_text(body)
    req.context._json_body = body
    return body


def _refuse_bad_text(body: object) -> None:
    """400 when any string in the parsed body, key or value, is not storable text.

    Iterative, not recursive: json.loads accepts nesting almost as deep as the recursion
    limit, and a recursive walk started further down the stack would overflow on it.
    """
    pending = [body]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def _check_text(text: str) -> None:
    # NUL: PostgreSQL text cannot hold it, so anywhere it reached a column it was a 500. The
    # schemas already refused it in names, descriptions and metadata; no client sends one in
    # any field, so one check here covers the fields they do not look at too.
    if "\x00" in text:
        raise Fault(400, HAS_NUL)
    if not text.isascii() and SURROGATE.search(text):
        raise Fault(400, NOT_UNICODE)


def require_body(req) -> object:
    """Handlers that need a body: no body is a 400 (Manila's TypeError path)."""
    body = read_json(req)
    if body is None:
        raise Fault(400, "The server could not comply with the request since it is either malformed "
                         "or otherwise incorrect.")
    return body


def resource_body(req, key: str) -> dict:
    """``{"<key>": {...}}``: a missing or non-object value is Manila's 422."""
    body = require_body(req)
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise Fault(422, f"Body does not contain '{key}' information.")
    return body[key]


def action_body(req) -> tuple[str, object]:
    """An action body has exactly one top-level key: the action's name."""
    body = read_json(req)
    if body is None:
        raise Fault(400, "There is no such action: None")
    if not isinstance(body, dict) or len(body) != 1:
        raise Fault(400, MALFORMED)
    (name, value), = body.items()
    return name, value
