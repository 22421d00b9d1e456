"""Index deltas on disk: the layouts of versions 2 and 3 and the writer of every version.

What each version holds is described in index.py (which reads them) and in
docs/repository-format.md.
"""

from __future__ import annotations

import json
import os
import struct

# numpy is here (and in index.py, which imports this module first) for sorting and searching
# only; OpenBLAS's threads (one per core, started on import) would spin beside a restore's or a
# backup's own threads for nothing
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402 - after the thread setting

from sharebackup.engine.pack import ALONE, PackEntry

INDEX_AAD = b"index"
MAGIC_V2 = b"SBIDX2\n"
MAGIC = b"SBIDX3\n"
COUNTS = struct.Struct("<III")  # supersedes, packs, blobs
PACK = struct.Struct("<32sQ")  # id, size
PACK_ROW = np.dtype([("id", "V32"), ("size", "<u8")])  # the same, for numpy
# One blob; a delta lists them sorted by id, "pack" is the row of the delta's pack table. In memory
# the records are kept as they are read (their pack rows renumbered), beside a native copy of the
# keys for searchsorted: 53 + 8 bytes a blob.
RECORD_V2 = np.dtype([("key", ">u8"), ("tail", "V24"), ("pack", "<u4"), ("type", "u1"), ("offset", "<u8"),
                      ("length", "<u4"), ("plain", "<u4")])  # packed: 53 bytes
# offset and length are the unit's (the blob's own stored form, or its group's); inner is where
# the blob starts in its group's plaintext, ALONE for a blob stored by itself
RECORD = np.dtype([("key", ">u8"), ("tail", "V24"), ("pack", "<u4"), ("type", "u1"), ("offset", "<u4"),
                   ("length", "<u4"), ("plain", "<u4"), ("inner", "<u4")])  # packed: 53 bytes too


def delta_document(packs: list[tuple[str, int, list[PackEntry]]], supersedes: list[str] = (),
                   version: int = 1) -> bytes:
    if version >= 2:
        return _binary_delta(packs, supersedes, version)
    doc = {
        "v": 1,
        "supersedes": sorted(supersedes),
        "packs": [
            {"id": pid, "size": size, "blobs": [[e.type, e.id.hex(), e.offset, e.length, e.plain_len] for e in entries]}
            for pid, size, entries in packs
        ],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def _binary_delta(packs, supersedes, version: int) -> bytes:
    old = sorted(supersedes)
    total = sum(len(entries) for _, _, entries in packs)
    out = [MAGIC if version >= 3 else MAGIC_V2, COUNTS.pack(len(old), len(packs), total)]
    out += [bytes.fromhex(delta_id) for delta_id in old]
    out += [PACK.pack(bytes.fromhex(pid), size) for pid, size, _ in packs]
    records = np.zeros(total, RECORD if version >= 3 else RECORD_V2)
    row = 0
    for number, (_, _, entries) in enumerate(packs):
        for e in entries:
            fields = (int.from_bytes(e.id[:8], "big"), e.id[8:], number, e.type, e.offset, e.length, e.plain_len)
            if version >= 3:
                fields += (e.inner,)
            elif e.inner != ALONE:
                raise ValueError("a blob group cannot be listed in a version-2 index delta")
            records[row] = fields
            row += 1
    records = records[np.argsort(records["key"], kind="stable")]  # sorted: a reader merges runs
    out.append(records.tobytes())
    return b"".join(out)
