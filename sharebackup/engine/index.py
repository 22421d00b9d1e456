"""The blob index: which pack holds each blob, merged from write-once delta files.

Each `index/<id>` object lists packs and their blobs; it is never rewritten. Opening a
repository reads all deltas and merges them. GC writes one consolidated delta that
names the deltas it supersedes, then deletes them, so a crash in between only leaves
duplicates, which merge harmlessly.

Two delta formats (both encoded as a repository file with aad b"index"); docs/repository-format.md:
- version 1, JSON (repositories of format version 1 keep writing it):
    {"v": 1, "supersedes": [index ids],
     "packs": [{"id": pack id, "size": bytes, "blobs": [[type, blob id hex, offset, length, plain_len], ...]}]}
- version 2, binary (format version 2): MAGIC_V2, then little-endian counts, the superseded ids
  and the packs (raw 32-byte ids), then one 53-byte record per blob (RECORD_V2), which numpy
  reads without parsing (the layouts and the writer: index_delta.py).
- version 3 (format version 3, groups of small blobs): MAGIC, the same layout, records of RECORD:
  the offset in the pack shrinks to 32 bits and the blob's offset inside its group is added, so a
  record stays 53 bytes.

In memory the index is two sorted numpy arrays: the ids' first 8 bytes as native integers (for
searchsorted) and the 53-byte records themselves (version 3's layout; version 2 deltas are
converted as they are merged), their pack rows renumbered to the index's packs: about 61 bytes a
blob, where a dict of BlobLocation objects took about 300. Ten million
blobs open in 3 to 4.5 s in about 615 MB (benchmarks/index_benchmark.py). A lookup is a binary
search. Blobs added since the last `seal()` (a running backup's) wait in a small dict.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from typing import Iterator

# first: index_delta turns OpenBLAS's threads off before numpy loads
from sharebackup.engine.index_delta import COUNTS, MAGIC, MAGIC_V2, PACK_ROW, RECORD, RECORD_V2

import numpy as np

from sharebackup.engine.pack import ALONE, PackEntry

@dataclasses.dataclass(frozen=True)
class BlobLocation:
    pack_id: str
    type: int
    offset: int
    length: int
    plain_len: int
    inner: int = ALONE


REST = RECORD
SEAL_PENDING = 65536  # blobs added before they are sorted into the arrays
_RAW = np.dtype(("V", RECORD.itemsize))  # a record as raw bytes: numpy moves a void item as one block
_ID = np.dtype([("key", ">u8"), ("tail", "V24")])  # a 32-byte blob id, split as the records split it


class Index:
    """The merged index; thread-safe for the backup pipeline's lookups and adds."""

    def __init__(self) -> None:
        self.packs: dict[str, int] = {}  # pack id -> size
        self.delta_ids: set[str] = set()
        self._names: list[str] = []  # pack number -> pack id
        self._numbers: dict[str, int] = {}
        # (sorted keys, the records in the keys' order, the records' tails as a view made once: a
        # field lookup per _find costs a microsecond), replaced as one tuple, so a lookup running
        # beside seal() sees one consistent set
        empty = np.empty(0, REST)
        self._sorted: tuple[np.ndarray, np.ndarray, np.ndarray] = (np.empty(0, np.uint64), empty, empty["tail"])
        self._loaded: list[tuple[np.ndarray, np.ndarray]] = []  # (records, pack numbers), sorted in by seal()
        self._pending: dict[bytes, BlobLocation] = {}
        self._lock = threading.Lock()

    # -- lookups ---------------------------------------------------------------------
    def __contains__(self, blob_id: bytes) -> bool:
        return blob_id in self._pending or self._find(blob_id) >= 0

    def get(self, blob_id: bytes) -> BlobLocation | None:
        found = self._pending.get(blob_id)
        if found is not None:
            return found
        # the sorted arrays are taken after the pending dict: seal() publishes its new arrays
        # before it empties the dict, so an entry is always in one of the two
        sorted_ = self._sorted
        row = self._find(blob_id, sorted_)
        return self._location(row, sorted_[1]) if row >= 0 else None

    def get_many(self, blob_ids: list[bytes]) -> list[BlobLocation | None]:
        """get() for many ids, with one binary search for all of them: a restore looks up each
        small file's blob, and a numpy call per id (each releasing and taking back the GIL) was
        the largest part of its GIL-held time."""
        out = [self._pending.get(blob_id) for blob_id in blob_ids] if self._pending else [None] * len(blob_ids)
        sorted_ = self._sorted  # after the pending dict, as in get()
        todo = [i for i, found in enumerate(out) if found is None and len(blob_ids[i]) == 32]
        if not todo or not len(sorted_[0]):
            return out
        rows, hits = _search(blob_ids, todo, sorted_)
        records = iter(sorted_[1][rows[np.asarray(hits, bool)]].tolist())
        names = self._names
        for i, hit in zip(todo, hits):
            if hit:
                _key, _tail, pack, type_, offset, length, plain, inner = next(records)
                out[i] = BlobLocation(names[pack], type_, offset, length, plain, inner)
            else:  # absent, or an id sharing its first 8 bytes with others (see _search)
                out[i] = self.get(blob_ids[i])
        return out

    def contains_many(self, blob_ids: list[bytes]) -> list[bool]:
        """`in` for many ids, with one binary search for all of them (an incremental asks for
        every blob of each unchanged file: one search a file was a sixth of its walk)."""
        out = [blob_id in self._pending for blob_id in blob_ids] if self._pending else [False] * len(blob_ids)
        sorted_ = self._sorted
        todo = [i for i, found in enumerate(out) if not found and len(blob_ids[i]) == 32]
        if todo and len(sorted_[0]):
            for i, hit in zip(todo, _search(blob_ids, todo, sorted_)[1]):
                out[i] = hit or self._find(blob_ids[i]) >= 0
        return out

    @property
    def _keys(self) -> np.ndarray:
        return self._sorted[0]

    @property
    def _rest(self) -> np.ndarray:
        return self._sorted[1]

    def _find(self, blob_id: bytes, sorted_=None) -> int:
        keys, _rest, tails = sorted_ or self._sorted
        if len(blob_id) != 32 or not len(keys):
            return -1
        key = int.from_bytes(blob_id[:8], "big")
        row = int(keys.searchsorted(np.uint64(key)))
        tail, n = blob_id[8:], len(keys)
        while row < n and int(keys[row]) == key:
            if tails[row].tobytes() == tail:
                return row
            row += 1
        return -1

    def _location(self, row: int, rest: np.ndarray) -> BlobLocation:
        _key, _tail, pack, type_, offset, length, plain, inner = rest[row].item()  # one call, not six
        return BlobLocation(self._names[pack], type_, offset, length, plain, inner)

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
                    self._pending[e.id] = BlobLocation(pack_id, e.type, e.offset, e.length, e.plain_len, e.inner)
            # A backup of a million small files adds a million blobs: as dict entries they took
            # ~200 bytes each, so they go into the compact arrays from time to time (a quarter
            # of the arrays' size at least, which keeps the sorting linear overall).
            if len(self._pending) >= max(SEAL_PENDING, len(self._sorted[0]) // 4):
                self._seal_locked()

    def merge_delta(self, delta_id: str, delta) -> None:
        """Merge one delta: its stored payload (either format) or a version-1 document."""
        if isinstance(delta, (bytes, bytearray, memoryview)) and bytes(delta[:len(MAGIC)]) in (MAGIC, MAGIC_V2):
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
        n_old, n_packs, n_blobs = COUNTS.unpack_from(payload, offset)
        offset += COUNTS.size + 32 * n_old
        table = np.frombuffer(payload, PACK_ROW, count=n_packs, offset=offset)
        offset += n_packs * PACK_ROW.itemsize
        layout = RECORD if payload.startswith(MAGIC) else RECORD_V2
        if len(payload) != offset + n_blobs * layout.itemsize:
            raise ValueError("a binary index delta whose counts do not match its length")
        with self._lock:
            numbers = np.fromiter((self._number(raw.tobytes().hex(), int(size)) for raw, size in
                                   zip(table["id"], table["size"])), np.uint32, n_packs)
        records = np.frombuffer(payload, layout, count=n_blobs, offset=offset)  # a view: no copy until seal
        if layout is RECORD_V2:
            records = _from_v2(records)
        with self._lock:
            self._loaded.append((records, numbers))

    def seal(self) -> None:
        """Sort what was merged and added into the compact arrays (once a load is done). The
        delta's rows are scattered as they were read straight to their sorted places in one new
        array, and their pack rows renumbered there in one pass: fresh memory is what costs
        here (a page fault per 4 KiB), so nothing is copied twice. Of an id listed twice, any
        copy is kept (each verifies the same)."""
        with self._lock:
            self._seal_locked()

    def _seal_locked(self) -> None:
        parts = [(self._rest, None), *self._loaded]
        if self._pending:
            parts.append((_pending_part(self._pending, self._numbers), None))
        if len(parts) == 1:
            return
        keys = np.concatenate([rows["key"] for rows, _ in parts]).astype(np.uint64)
        # the deltas are sorted runs: a stable sort (timsort) merges them in a fraction of
        # a random sort's time
        order = np.argsort(keys, kind="stable")
        rest = _scattered(parts, order)
        _renumber(rest, parts, order)
        keys, rest = _unique(keys[order], rest)
        self._sorted = (keys, rest, rest["tail"])  # published first, then the parts let go
        self._loaded, self._pending = [], {}

    def totals(self) -> tuple[int, int, int]:
        """(blobs, plain bytes, stored bytes), without building a location per blob; a group's
        stored bytes count once, not once a member."""
        rest, pending = self._rest, list(self._pending.values())
        alone = rest["inner"] == ALONE
        grouped = rest[~alone]
        units = np.unique(grouped["pack"].astype(np.uint64) << np.uint64(32) | grouped["offset"].astype(np.uint64),
                          return_index=True)[1]
        stored = int(rest["length"][alone].sum(dtype=np.uint64)) + int(grouped["length"][units].sum(dtype=np.uint64))
        stored += sum({(p.pack_id, p.offset): p.length for p in pending}.values())
        return (len(rest) + len(pending), int(rest["plain"].sum(dtype=np.uint64)) + sum(p.plain_len for p in pending),
                stored)

    def entries_by_pack(self) -> dict[str, list[tuple[bytes, BlobLocation]]]:
        out: dict[str, list[tuple[bytes, BlobLocation]]] = {p: [] for p in self.packs}
        for bid, loc in self.blobs.items():
            out.setdefault(loc.pack_id, []).append((bid, loc))
        return out


def _search(blob_ids: list[bytes], todo: list[int], sorted_) -> tuple[np.ndarray, list[bool]]:
    """One binary search for the ids blob_ids[i], i in todo: their rows, and which were found
    there. A miss may still be present, as an id sharing its first 8 bytes with others (a row
    further on, which _find walks to)."""
    keys, _rest, tails = sorted_
    wanted = np.frombuffer(b"".join(blob_ids[i] for i in todo), _ID)
    want_keys = wanted["key"].astype(np.uint64)
    rows = np.minimum(keys.searchsorted(want_keys), len(keys) - 1)
    return rows, ((keys[rows] == want_keys) & (tails[rows] == wanted["tail"])).tolist()


def _from_v2(records: np.ndarray) -> np.ndarray:
    """Version-2 records in the version-3 layout (every blob stored alone)."""
    if len(records) and int(records["offset"].max()) >= 1 << 32:
        raise ValueError("a binary index delta with a pack offset beyond 4 GiB")
    out = np.empty(len(records), RECORD)
    for name in ("key", "tail", "pack", "type", "offset", "length", "plain"):
        out[name] = records[name]
    out["inner"] = ALONE
    return out


def _scattered(parts: list, order: np.ndarray) -> np.ndarray:
    """The rows of all parts, in ``order`` (rows move as raw items: numpy copies a void item as
    one block, a structured one field by field)."""
    place = np.empty_like(order)
    place[order] = np.arange(len(order))
    rest, start = np.empty(len(order), _RAW), 0
    for rows, _ in parts:
        rest[place[start:start + len(rows)]] = rows.view(_RAW)
        start += len(rows)
    return rest.view(REST)


def _renumber(rest: np.ndarray, parts: list, order: np.ndarray) -> None:
    """Pack rows of the deltas (their own tables') become the index's pack numbers."""
    offsets, mapping, start = [], [], 0
    for rows, numbers in parts:
        if numbers is None:  # rows numbered already (the sealed arrays, the pending dict)
            numbers = np.arange(int(rows["pack"].max()) + 1 if len(rows) else 0, dtype=np.uint32)
        offsets.append(start)
        mapping.append(numbers)
        start += len(numbers)
    which = np.repeat(np.arange(len(parts), dtype=np.uint32), [len(rows) for rows, _ in parts])[order]
    local = rest["pack"].astype(np.int64)
    if len(local) and bool(np.any(local >= np.asarray([len(m) for m in mapping], np.int64)[which])):
        raise ValueError("a binary index delta naming a pack it does not list")
    rest["pack"] = np.concatenate(mapping)[np.asarray(offsets, np.int64)[which] + local]


def _pending_part(pending: dict[bytes, BlobLocation], numbers: dict[str, int]) -> np.ndarray:
    """The records of the blobs added since the last seal, pack numbers already the index's."""
    raw = np.frombuffer(b"".join(pending), dtype=[("key", ">u8"), ("tail", "V24")])
    rest = np.empty(len(raw), REST)
    rest["key"], rest["tail"] = raw["key"], raw["tail"]
    locs = list(pending.values())
    rest["pack"] = [numbers[loc.pack_id] for loc in locs]
    rest["type"] = [loc.type for loc in locs]
    rest["offset"] = [loc.offset for loc in locs]
    rest["length"] = [loc.length for loc in locs]
    rest["plain"] = [loc.plain_len for loc in locs]
    rest["inner"] = [loc.inner for loc in locs]
    return rest


def _unique(keys: np.ndarray, rest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One entry per id. Equal ids sit next to each other after the sort by key, unless a
    different id shares their 8-byte key between them: then both copies stay, harmlessly
    (_find looks at every row of a key, and either copy verifies)."""
    tails = rest["tail"]
    same = (keys[1:] == keys[:-1]) & (tails[1:] == tails[:-1])
    if same.any():
        keep = np.concatenate(([True], ~same))
        keys, rest = keys[keep], rest[keep]
    return keys, rest


class _BlobView:
    """id -> BlobLocation over the sorted arrays and the pending dict (built as asked for)."""

    def __init__(self, index: Index):
        self.index = index

    def __len__(self) -> int:
        return len(self.index._keys) + len(self.index._pending)

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
        pending = list(self.index._pending.items())  # before the arrays: see Index.get
        keys, rest, tails = self.index._sorted
        for row in range(len(keys)):
            yield int(keys[row]).to_bytes(8, "big") + tails[row].tobytes(), self.index._location(row, rest)
        yield from pending

    def __iter__(self):
        return (blob_id for blob_id, _ in self.items())

    def keys(self):
        return iter(self)

    def values(self) -> Iterator[BlobLocation]:
        return (loc for _, loc in self.items())
