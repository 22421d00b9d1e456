"""JSON responses that can always be encoded.

A lone surrogate ("\\ud800") is a Python str character that is not Unicode text, so it has
no UTF-8 encoding. Request bodies cannot bring one in any more (``body.read_json`` refuses
it), but a JSON column written before that (share metadata) can still hold one, and
Falcon's default handler then raised UnicodeEncodeError while writing the response: a 500
with an empty body, for everyone, on every listing that included the row.

Such a character is sent as U+FFFD REPLACEMENT CHARACTER, not as the JSON escape
``\\ud800``: every JSON parser and terminal takes U+FFFD, while lone-surrogate escapes are
outside I-JSON (RFC 7493), strict parsers refuse them, and a Python client printing the
value to a UTF-8 terminal fails. Sending the exact value back buys nothing: a client could
not write it again (it is refused with 400), and it can still replace or delete the item.
"""
from __future__ import annotations

import json
import re

import falcon

SURROGATE = re.compile("[\ud800-\udfff]")


def dumps(media: object) -> bytes:
    """UTF-8 JSON of ``media``; lone surrogates become U+FFFD instead of raising."""
    text = json.dumps(media, ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # ensure_ascii=False leaves characters as they are, so the surrogates in the text
        # are exactly those of the values (and keys), and nothing else is touched.
        return SURROGATE.sub("\ufffd", text).encode("utf-8")


def json_handler() -> falcon.media.JSONHandler:
    """Falcon's JSON media handler, writing with ``dumps``."""
    return falcon.media.JSONHandler(dumps=dumps)
