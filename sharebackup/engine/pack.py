"""Pack files: many encoded blobs in one store object, with a self-describing trailer.

    [unit 0][unit 1]...[unit n-1][encoded trailer][trailer length: u32 LE][magic]

A unit is one blob's stored form or, from format version 3, a group's: the plaintexts of
several small blobs compressed and encrypted together (engine/blob_groups.py). The trailer
lists (type, id, offset, stored length, plain length) for every blob, and from version 3
(magic "SBKPACK3") the blob's offset inside its group's plaintext (ALONE for a blob stored by
itself); version 1 and 2 packs end in "SBKPACK1". So the index can be rebuilt from the packs
alone. It is encoded like any repository file (compressed when it pays, encrypted when keyed).
A pack is named by the unkeyed BLAKE3 of all its bytes, so `check --read-data` can
verify it without a key and a pack can never be overwritten with different content.
"""

from __future__ import annotations

import dataclasses
import struct

from sharebackup.engine.codec import Codec
from sharebackup.engine.errors import IntegrityError

MAGIC = b"SBKPACK1"
MAGIC_GROUPED = b"SBKPACK3"
_FOOTER = struct.Struct("<I8s")
_ENTRY = struct.Struct("<B32sIII")
_ENTRY_GROUPED = struct.Struct("<B32sIIII")  # ... and the offset inside the group's plaintext
ALONE = 0xFFFFFFFF  # the "inner" of a blob stored by itself, not in a group
MAX_GROUP_PLAIN = 64 << 20  # a reader refuses a group larger than this (the writer's are <= ~4 MiB)
TRAILER_AAD = b"pack-trailer"

BLOB_DATA = 0
BLOB_TREE = 1


@dataclasses.dataclass(frozen=True)
class PackEntry:
    type: int
    id: bytes
    offset: int
    length: int  # stored (encoded) length of the unit: the blob's own, or its group's
    plain_len: int  # the blob's own plaintext length
    inner: int = ALONE  # where the blob starts in its group's plaintext, if it is in one


def pack_name(pack_id: str) -> str:
    return f"data/{pack_id[:2]}/{pack_id}"


class PackBuilder:
    """Accumulates encoded blobs in memory until the pack is big enough to write."""

    def __init__(self, grouped: bool = False) -> None:
        self.grouped = grouped  # format version 3: units may be groups, the trailer says where
        # One growing buffer rather than a list joined at the end: a join would hold
        # the pack twice at the moment of upload, which is most of our peak memory.
        self.buf = bytearray()
        self.entries: list[PackEntry] = []

    @property
    def size(self) -> int:
        return len(self.buf)

    def add(self, blob_type: int, blob_id: bytes, stored: bytes, plain_len: int) -> None:
        self.add_unit(blob_type, [(blob_id, ALONE, plain_len)], stored)

    def add_unit(self, blob_type: int, members: list[tuple[bytes, int, int]], stored: bytes) -> None:
        """One unit's stored form; members are (blob id, offset in the group or ALONE, plain length)."""
        offset = len(self.buf)
        self.entries += [PackEntry(blob_type, bid, offset, len(stored), n, inner) for bid, inner, n in members]
        self.buf += stored

    def finish(self, codec: Codec) -> tuple[str, bytearray]:
        """Return (pack id, pack bytes); the builder is spent afterwards."""
        if self.grouped:
            trailer = b"".join(_ENTRY_GROUPED.pack(e.type, e.id, e.offset, e.length, e.plain_len, e.inner)
                               for e in self.entries)
        else:
            trailer = b"".join(_ENTRY.pack(e.type, e.id, e.offset, e.length, e.plain_len) for e in self.entries)
        enc = codec.encode(trailer, TRAILER_AAD)
        self.buf += enc
        self.buf += _FOOTER.pack(len(enc), MAGIC_GROUPED if self.grouped else MAGIC)
        data, self.buf = self.buf, bytearray()
        return Codec.content_id(data), data


def parse_trailer(codec: Codec, tail: bytes, pack_size: int) -> list[PackEntry]:
    """Parse the entries from the last bytes of a pack (`tail` must hold the whole trailer)."""
    if len(tail) < _FOOTER.size:
        raise IntegrityError("pack too short for a footer")
    tlen, magic = _FOOTER.unpack(tail[-_FOOTER.size:])
    if magic not in (MAGIC, MAGIC_GROUPED):
        raise IntegrityError("pack footer magic mismatch")
    entry = _ENTRY_GROUPED if magic == MAGIC_GROUPED else _ENTRY
    if tlen + _FOOTER.size > len(tail):
        raise IntegrityError("pack trailer longer than the data read")
    enc = tail[-_FOOTER.size - tlen:-_FOOTER.size]
    raw = codec.decode(enc, TRAILER_AAD)
    if len(raw) % entry.size:
        raise IntegrityError("pack trailer has a partial entry")
    entries = [PackEntry(*entry.unpack_from(raw, i)) for i in range(0, len(raw), entry.size)]
    data_end = pack_size - _FOOTER.size - tlen
    for e in entries:
        if e.offset + e.length > data_end:
            raise IntegrityError("pack trailer points past the blob area")
        if e.inner != ALONE and e.inner + e.plain_len > MAX_GROUP_PLAIN:
            raise IntegrityError("pack trailer points past the end of a group")
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
