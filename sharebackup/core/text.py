"""Text from the file system and the backup engine, made safe to store and to show.

A share's names are bytes and need not be UTF-8. Decoded with ``os.fsdecode`` an
undecodable byte becomes a lone surrogate (b"d\\xff" -> "d\\udcff"), which neither
PostgreSQL nor SQLite will store, and which no log reader can show. ``display_text`` is
the one conversion used wherever such text leaves the engine for a database row, a user
message or a log line.
"""
from __future__ import annotations

_SURROGATES = range(0xD800, 0xE000)
_ESCAPED_BYTES = range(0xDC80, 0xDD00)  # what surrogateescape makes of the bytes 0x80..0xff


def display_text(value: object) -> str:
    """Readable, storable text for ``value``: str, bytes or anything else (``str()`` of it).

    A byte that is not UTF-8 shows as ``\\xNN`` (so b"d\\xff" and os.fsdecode's "d\\udcff" both
    read ``d\\xff``, as the engine's own messages write it), any other lone surrogate as
    ``\\udNNN``, and NUL as ``\\x00`` (PostgreSQL text cannot hold it). Never raises: a failure
    handler calls it, and a second exception there would leave the job unfinished.
    """
    try:
        if isinstance(value, (bytes, bytearray, memoryview)):
            text = bytes(value).decode("utf-8", "backslashreplace")
        else:
            text = value if isinstance(value, str) else str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ must not break the caller
        text = f"<{type(value).__name__} that could not be shown>"
    if text.isascii() and "\x00" not in text:
        return text  # nearly every message: nothing to look at character by character
    return "".join(_escape(char) for char in text)


def _escape(char: str) -> str:
    code = ord(char)
    if code in _ESCAPED_BYTES:
        return f"\\x{code - 0xDC00:02x}"
    if code in _SURROGATES:
        return f"\\u{code:04x}"
    if code == 0:
        return "\\x00"
    return char
