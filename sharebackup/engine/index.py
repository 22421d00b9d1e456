"""The blob index: which pack holds each blob, merged from write-once delta files.

Each `index/<id>` object lists packs and their blobs; it is never rewritten. Opening a
repository reads all deltas and merges them. GC writes one consolidated delta that
names the deltas it supersedes, then deletes them, so a crash in between only leaves
duplicates, which merge harmlessly.

Delta document (JSON, then encoded as a repository file with aad b"index"):
    {"v": 1, "supersedes": [index ids],
     "packs": [{"id": pack id, "size": bytes, "blobs": [[type, blob id hex, offset, length, plain_len], ...]}]}
"""

from __future__ import annotations

import dataclasses
import json
import threading

from sharebackup.engine.pack import PackEntry

INDEX_AAD = b"index"


@dataclasses.dataclass(frozen=True)
class BlobLocation:
    pack_id: str
    type: int
    offset: int
    length: int
    plain_len: int


class Index:
    """In-memory merged index; thread-safe for the backup pipeline's lookups and adds."""

    def __init__(self) -> None:
        self.blobs: dict[bytes, BlobLocation] = {}
        self.packs: dict[str, int] = {}  # pack id -> size
        self.delta_ids: set[str] = set()
        self._lock = threading.Lock()

    def __contains__(self, blob_id: bytes) -> bool:
        return blob_id in self.blobs

    def get(self, blob_id: bytes) -> BlobLocation | None:
        return self.blobs.get(blob_id)

    def add_pack(self, pack_id: str, size: int, entries: list[PackEntry]) -> None:
        with self._lock:
            self.packs[pack_id] = size
            for e in entries:
                # keep the first location seen: any copy verifies the same
                self.blobs.setdefault(e.id, BlobLocation(pack_id, e.type, e.offset, e.length, e.plain_len))

    def merge_delta(self, delta_id: str, doc: dict) -> None:
        if doc.get("v") != 1:
            raise ValueError(f"unknown index version {doc.get('v')!r}")
        for pack in doc["packs"]:
            entries = [PackEntry(t, bytes.fromhex(i), o, ln, pl) for t, i, o, ln, pl in pack["blobs"]]
            self.add_pack(pack["id"], pack["size"], entries)
        self.delta_ids.add(delta_id)

    def entries_by_pack(self) -> dict[str, list[tuple[bytes, BlobLocation]]]:
        out: dict[str, list[tuple[bytes, BlobLocation]]] = {p: [] for p in self.packs}
        for bid, loc in self.blobs.items():
            out.setdefault(loc.pack_id, []).append((bid, loc))
        return out


def delta_document(packs: list[tuple[str, int, list[PackEntry]]], supersedes: list[str] = ()) -> bytes:
    doc = {
        "v": 1,
        "supersedes": sorted(supersedes),
        "packs": [
            {"id": pid, "size": size, "blobs": [[e.type, e.id.hex(), e.offset, e.length, e.plain_len] for e in entries]}
            for pid, size, entries in packs
        ],
    }
    return json.dumps(doc, separators=(",", ":")).encode()
