"""The blob index: which pack holds each blob, merged from write-once delta files.

Each `index/<id>` object lists packs and their blobs; it is never rewritten. Opening a
repository reads all deltas and merges them. GC writes one consolidated delta that
names the deltas it supersedes, then deletes them, so a crash in between only leaves
duplicates, which merge harmlessly.

Two delta formats (both encoded as a repository file with aad b"index"); docs/repository-format.md:
- version 1, JSON (repositories of format version 1 keep writing it):
    {"v": 1, "supersedes": [index ids],
     "packs": [{"id": pack id, "size": bytes, "blobs": [[type, blob id hex, offset, length, plain_len], ...]}]}
- version 2, binary (format version 2): MAGIC, then little-endian counts, the superseded ids and
  the packs (raw 32-byte ids), then one 49-byte record per blob (see RECORD), which numpy reads
  without parsing.

In memory the index is a set of sorted numpy arrays, about 53 bytes a blob (the id's first 8
bytes as a sort key, its other 24, the pack's number, type, offset, length and plain length),
where a dict of BlobLocation objects took about 300: ten million blobs fit in about 530 MB and
load in seconds. A lookup is a binary search (numpy's searchsorted). Blobs added since the last
`seal()` (a running backup's) wait in a small dict.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import threading
from typing import Iterator

import numpy as np

from sharebackup.engine.pack import PackEntry

INDEX_AAD = b"index"
MAGIC = b"SBIDX2\n"
_COUNTS = struct.Struct("<III")  # supersedes, packs, blobs
_PACK = struct.Struct("<32sQI")  # id, size, blob count (its blobs follow the previous packs' in order)
RECORD = np.dtype([("key", ">u8"), ("tail", "V24"), ("type", "u1"), ("offset", "<u8"), ("length", "<u4"),
                   ("plain", "<u4")])  # packed: 49 bytes


@dataclasses.dataclass(frozen=True)
class BlobLocation:
    pack_id: str
    type: int
    offset: int
    length: int
    plain_len: int


_EMPTY = {"key": np.empty(0, np.uint64), "tail": np.empty(0, "V24"), "pack": np.empty(0, np.uint32),
          "type": np.empty(0, np.uint8), "offset": np.empty(0, np.uint64), "length": np.empty(0, np.uint32),
          "plain": np.empty(0, np.uint32)}


class Index:
    """The merged index; thread-safe for the backup pipeline's lookups and adds."""

    def __init__(self) -> None:
        self.packs: dict[str, int] = {}  # pack id -> size
        self.delta_ids: set[str] = set()
        self._names: list[str] = []  # pack number -> pack id
        self._numbers: dict[str, int] = {}
        self._cols = dict(_EMPTY)  # sorted by key, then tail
        self._loaded: list[dict] = []  # columns read by merge_delta, sorted in by seal()
        self._pending: dict[bytes, BlobLocation] = {}
        self._lock = threading.Lock()

    # -- lookups ---------------------------------------------------------------------
    def __contains__(self, blob_id: bytes) -> bool:
        return blob_id in self._pending or self._find(blob_id) >= 0

    def get(self, blob_id: bytes) -> BlobLocation | None:
        found = self._pending.get(blob_id)
        if found is not None:
            return found
        row = self._find(blob_id)
        return self._location(row) if row >= 0 else None

    def _find(self, blob_id: bytes) -> int:
        keys = self._cols["key"]
        if len(blob_id) != 32 or not len(keys):
            return -1
        key = np.uint64(int.from_bytes(blob_id[:8], "big"))
        row = int(np.searchsorted(keys, key))
        tail, tails = blob_id[8:], self._cols["tail"]
        while row < len(keys) and keys[row] == key:
            if tails[row].tobytes() == tail:
                return row
            row += 1
        return -1

    def _location(self, row: int) -> BlobLocation:
        c = self._cols
        return BlobLocation(self._names[int(c["pack"][row])], int(c["type"][row]), int(c["offset"][row]),
                            int(c["length"][row]), int(c["plain"][row]))

    @property
    def blobs(self) -> "_BlobView":
        """Every blob, as a read-only mapping id -> BlobLocation (for check, gc and stats)."""
        return _BlobView(self)

    # -- adding ----------------------------------------------------------------------
    def _number(self, pack_id: str, size: int) -> int:
        self.packs[pack_id] = size
        if pack_id not in self._numbers:
            self._numbers[pack_id] = len(self._names)
            self._names.append(pack_id)
        return self._numbers[pack_id]

    def add_pack(self, pack_id: str, size: int, entries: list[PackEntry]) -> None:
        with self._lock:
            self._number(pack_id, size)
            for e in entries:
                # keep the first location seen: any copy verifies the same
                if e.id not in self._pending and self._find(e.id) < 0:
                    self._pending[e.id] = BlobLocation(pack_id, e.type, e.offset, e.length, e.plain_len)

    def merge_delta(self, delta_id: str, delta) -> None:
        """Merge one delta: its stored payload (either format) or a version-1 document."""
        if isinstance(delta, (bytes, bytearray, memoryview)) and bytes(delta[:len(MAGIC)]) == MAGIC:
            self._merge_binary(bytes(delta))
        else:
            doc = json.loads(delta) if isinstance(delta, (bytes, bytearray, memoryview, str)) else delta
            if doc.get("v") != 1:
                raise ValueError(f"unknown index version {doc.get('v')!r}")
            for pack in doc["packs"]:
                self.add_pack(pack["id"], pack["size"],
                              [PackEntry(t, bytes.fromhex(i), o, ln, pl) for t, i, o, ln, pl in pack["blobs"]])
        self.delta_ids.add(delta_id)

    def _merge_binary(self, payload: bytes) -> None:
        offset = len(MAGIC)
        n_old, n_packs, n_blobs = _COUNTS.unpack_from(payload, offset)
        offset += _COUNTS.size + 32 * n_old
        numbers = np.empty(n_blobs, np.uint32)
        start = 0
        with self._lock:
            for _ in range(n_packs):
                raw, size, count = _PACK.unpack_from(payload, offset)
                offset += _PACK.size
                numbers[start:start + count] = self._number(raw.hex(), size)
                start += count
        if start != n_blobs or len(payload) != offset + n_blobs * RECORD.itemsize:
            raise ValueError("a binary index delta whose counts do not match its length")
        records = np.frombuffer(payload, RECORD, count=n_blobs, offset=offset)  # a view: no copy until seal
        with self._lock:
            self._loaded.append({"records": records, "pack": numbers})

    def seal(self) -> None:
        """Sort what was merged and added into the compact arrays (once a load is done). Each
        column is built once from the deltas' record views and permuted once, so the peak is
        the deltas plus the columns, and only the columns stay."""
        with self._lock:
            parts = [self._cols, *(_record_columns(part) for part in self._loaded)]
            if self._pending:
                parts.append(_columns(self._pending, self._numbers))
            if len(parts) == 1:
                return
            self._loaded, self._pending = [], {}
            order = np.argsort(np.concatenate([part["key"] for part in parts]), kind="stable")
            merged = {name: np.concatenate([part[name] for part in parts]).astype(_EMPTY[name].dtype)[order]
                      for name in _EMPTY}
            self._cols = _unique(merged)

    def totals(self) -> tuple[int, int, int]:
        """(blobs, plain bytes, stored bytes), without building a location per blob."""
        c, pending = self._cols, list(self._pending.values())
        return (len(c["key"]) + len(pending), int(c["plain"].sum(dtype=np.uint64)) + sum(p.plain_len for p in pending),
                int(c["length"].sum(dtype=np.uint64)) + sum(p.length for p in pending))

    def entries_by_pack(self) -> dict[str, list[tuple[bytes, BlobLocation]]]:
        out: dict[str, list[tuple[bytes, BlobLocation]]] = {p: [] for p in self.packs}
        for bid, loc in self.blobs.items():
            out.setdefault(loc.pack_id, []).append((bid, loc))
        return out


def _columns(pending: dict[bytes, BlobLocation], numbers: dict[str, int]) -> dict:
    ids = list(pending)
    raw = np.frombuffer(b"".join(ids), dtype=[("key", ">u8"), ("tail", "V24")]) if ids else None
    locs = list(pending.values())
    return {"key": raw["key"].astype(np.uint64) if ids else _EMPTY["key"],
            "tail": raw["tail"].copy() if ids else _EMPTY["tail"],
            "pack": np.fromiter((numbers[loc.pack_id] for loc in locs), np.uint32, len(locs)),
            "type": np.fromiter((loc.type for loc in locs), np.uint8, len(locs)),
            "offset": np.fromiter((loc.offset for loc in locs), np.uint64, len(locs)),
            "length": np.fromiter((loc.length for loc in locs), np.uint32, len(locs)),
            "plain": np.fromiter((loc.plain_len for loc in locs), np.uint32, len(locs))}


def _record_columns(part: dict) -> dict:
    """Lazy column views of one binary delta's records (converted when concatenated)."""
    records = part["records"]
    return {"key": records["key"], "tail": records["tail"], "pack": part["pack"], "type": records["type"],
            "offset": records["offset"], "length": records["length"], "plain": records["plain"]}


def _unique(cols: dict) -> dict:
    """Of equal ids (sorted next to each other, the first one given first: a stable sort) the
    first is kept; any copy verifies the same. Two different ids sharing the 8-byte key only sit
    next to each other in some order: _find looks at every row of a key."""
    keys, tails = cols["key"], cols["tail"]
    same = (keys[1:] == keys[:-1]) & (tails[1:] == tails[:-1])
    if same.any():
        keep = np.concatenate(([True], ~same))
        cols = {name: column[keep] for name, column in cols.items()}
    return cols


class _BlobView:
    """id -> BlobLocation over the sorted arrays and the pending dict (built as asked for)."""

    def __init__(self, index: Index):
        self.index = index

    def __len__(self) -> int:
        return len(self.index._cols["key"]) + len(self.index._pending)

    def __contains__(self, blob_id) -> bool:
        return blob_id in self.index

    def get(self, blob_id, default=None):
        found = self.index.get(blob_id)
        return default if found is None else found

    def __getitem__(self, blob_id) -> BlobLocation:
        found = self.index.get(blob_id)
        if found is None:
            raise KeyError(blob_id)
        return found

    def items(self) -> Iterator[tuple[bytes, BlobLocation]]:
        c = self.index._cols
        for row in range(len(c["key"])):
            yield int(c["key"][row]).to_bytes(8, "big") + c["tail"][row].tobytes(), self.index._location(row)
        yield from list(self.index._pending.items())

    def __iter__(self):
        return (blob_id for blob_id, _ in self.items())

    def keys(self):
        return iter(self)

    def values(self) -> Iterator[BlobLocation]:
        return (loc for _, loc in self.items())


def delta_document(packs: list[tuple[str, int, list[PackEntry]]], supersedes: list[str] = (),
                   version: int = 1) -> bytes:
    if version >= 2:
        return _binary_delta(packs, supersedes)
    doc = {
        "v": 1,
        "supersedes": sorted(supersedes),
        "packs": [
            {"id": pid, "size": size, "blobs": [[e.type, e.id.hex(), e.offset, e.length, e.plain_len] for e in entries]}
            for pid, size, entries in packs
        ],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def _binary_delta(packs, supersedes) -> bytes:
    old = sorted(supersedes)
    out = [MAGIC, _COUNTS.pack(len(old), len(packs), sum(len(entries) for _, _, entries in packs))]
    out += [bytes.fromhex(delta_id) for delta_id in old]
    out += [_PACK.pack(bytes.fromhex(pid), size, len(entries)) for pid, size, entries in packs]
    records = np.zeros(sum(len(entries) for _, _, entries in packs), RECORD)
    row = 0
    for _, _, entries in packs:
        for e in entries:
            records[row] = (int.from_bytes(e.id[:8], "big"), e.id[8:], e.type, e.offset, e.length, e.plain_len)
            row += 1
    out.append(records.tobytes())
    return b"".join(out)
