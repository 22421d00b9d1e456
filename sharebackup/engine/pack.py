"""Pack files: many encoded blobs in one store object, with a self-describing trailer.

    [blob 0][blob 1]...[blob n-1][encoded trailer][trailer length: u32 LE][magic "SBKPACK1"]

The trailer lists (type, id, offset, stored length, plain length) for every blob, so
the index can be rebuilt from the packs alone (see `rebuild_index_entries`). It is
encoded like any repository file (compressed when it pays, encrypted when keyed).
A pack is named by the unkeyed BLAKE3 of all its bytes, so `check --read-data` can
verify it without a key and a pack can never be overwritten with different content.
"""

from __future__ import annotations

import dataclasses
import struct

from sharebackup.engine.codec import Codec
from sharebackup.engine.errors import IntegrityError

MAGIC = b"SBKPACK1"
_FOOTER = struct.Struct("<I8s")
_ENTRY = struct.Struct("<B32sIII")
TRAILER_AAD = b"pack-trailer"

BLOB_DATA = 0
BLOB_TREE = 1


@dataclasses.dataclass(frozen=True)
class PackEntry:
    type: int
    id: bytes
    offset: int
    length: int  # stored (encoded) length
    plain_len: int


def pack_name(pack_id: str) -> str:
    return f"data/{pack_id[:2]}/{pack_id}"


class PackBuilder:
    """Accumulates encoded blobs in memory until the pack is big enough to write."""

    def __init__(self) -> None:
        # One growing buffer rather than a list joined at the end: a join would hold
        # the pack twice at the moment of upload, which is most of our peak memory.
        self.buf = bytearray()
        self.entries: list[PackEntry] = []

    @property
    def size(self) -> int:
        return len(self.buf)

    def add(self, blob_type: int, blob_id: bytes, stored: bytes, plain_len: int) -> None:
        self.entries.append(PackEntry(blob_type, blob_id, len(self.buf), len(stored), plain_len))
        self.buf += stored

    def finish(self, codec: Codec) -> tuple[str, bytearray]:
        """Return (pack id, pack bytes); the builder is spent afterwards."""
        trailer = b"".join(_ENTRY.pack(e.type, e.id, e.offset, e.length, e.plain_len) for e in self.entries)
        enc = codec.encode(trailer, TRAILER_AAD)
        self.buf += enc
        self.buf += _FOOTER.pack(len(enc), MAGIC)
        data, self.buf = self.buf, bytearray()
        return Codec.content_id(data), data


def parse_trailer(codec: Codec, tail: bytes, pack_size: int) -> list[PackEntry]:
    """Parse the entries from the last bytes of a pack (`tail` must hold the whole trailer)."""
    if len(tail) < _FOOTER.size:
        raise IntegrityError("pack too short for a footer")
    tlen, magic = _FOOTER.unpack(tail[-_FOOTER.size:])
    if magic != MAGIC:
        raise IntegrityError("pack footer magic mismatch")
    if tlen + _FOOTER.size > len(tail):
        raise IntegrityError("pack trailer longer than the data read")
    enc = tail[-_FOOTER.size - tlen:-_FOOTER.size]
    raw = codec.decode(enc, TRAILER_AAD)
    if len(raw) % _ENTRY.size:
        raise IntegrityError("pack trailer has a partial entry")
    entries = [PackEntry(*_ENTRY.unpack_from(raw, i)) for i in range(0, len(raw), _ENTRY.size)]
    data_end = pack_size - _FOOTER.size - tlen
    for e in entries:
        if e.offset + e.length > data_end:
            raise IntegrityError("pack trailer points past the blob area")
    return entries


def read_trailer_from_store(store, codec: Codec, name: str, size: int) -> list[PackEntry]:
    """Fetch only the tail of a pack: one small ranged get, then a second if the trailer is large."""
    guess = min(size, 64 * 1024)
    tail = store.get(name, offset=size - guess, length=guess)
    tlen, _ = _FOOTER.unpack(tail[-_FOOTER.size:]) if len(tail) >= _FOOTER.size else (0, b"")
    if tlen + _FOOTER.size > len(tail) and tlen + _FOOTER.size <= size:
        need = tlen + _FOOTER.size
        tail = store.get(name, offset=size - need, length=need)
    return parse_trailer(codec, tail, size)
