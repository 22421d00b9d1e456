"""Groups of small blobs (repository format 3): several small blobs stored as one unit.

zstd finds little to share inside one small file, and a lot across many: the benchmark tree's
20,000 files under 256 KiB took 103 MB compressed one by one and 64.5 MB compressed 512 (or
4 MiB) at a time (docs/benchmarks.md). So the backup hands its small files' blobs to the writer
in batches, and the writer stores the new ones of a batch as a group: their plaintexts one after
another, encoded like any blob (compressed, encrypted) with the aad GROUP_AAD. Every member keeps
its own id, index entry and plain length, and is verified against its id once its group is
decoded, so deduplication, check, gc and restore still work blob by blob.

The price is on reads: one small file costs decoding its whole group (at most GROUP_BYTES), so
readers keep recently decoded groups in a GroupCache. A restore's directories and the backup's
batches follow the same walk order, so consecutive directories mostly hit the same groups.
"""

from __future__ import annotations

import collections
import threading
from typing import Callable

from sharebackup.engine.codec import Codec
from sharebackup.engine.errors import IntegrityError
from sharebackup.engine.pack import ALONE, MAX_GROUP_PLAIN

GROUP_AAD = b"blob group"
GROUP_BLOBS = 512
GROUP_BYTES = 4 << 20  # a group is closed once its plaintext reaches this


def plan_groups(sizes: list[int]) -> list[tuple[int, int]]:
    """Split blobs of these sizes, in order, into groups: (start, end) index ranges. A blob of
    GROUP_BYTES or more (a chunker configured with a large min_size) is a range of its own, so
    no group comes near MAX_GROUP_PLAIN."""
    out, start, total = [], 0, 0
    for i, n in enumerate(sizes):
        if n >= GROUP_BYTES:
            if start < i:
                out.append((start, i))
            out.append((i, i + 1))
            start, total = i + 1, 0
            continue
        total += n
        if i + 1 - start >= GROUP_BLOBS or total >= GROUP_BYTES:
            out.append((start, i + 1))
            start, total = i + 1, 0
    if start < len(sizes):
        out.append((start, len(sizes)))
    return out


def decode_group(codec: Codec, stored) -> bytes:
    plain = codec.decode(stored, GROUP_AAD, MAX_GROUP_PLAIN)
    if len(plain) > MAX_GROUP_PLAIN:
        raise IntegrityError("blob group larger than a group may be")
    return plain


def member(codec: Codec, group: bytes, blob_id: bytes, inner: int, plain_len: int) -> bytes:
    """One blob cut from its decoded group, verified against its id."""
    if inner + plain_len > len(group):
        raise IntegrityError(f"blob {blob_id.hex()[:16]} lies past the end of its group")
    data = group[inner:inner + plain_len]
    if codec.blob_id(data) != blob_id:
        raise IntegrityError(f"blob {blob_id.hex()[:16]} does not match its id")
    return data


def decode_located(codec: Codec, stored, blob_id: bytes, loc, groups: "GroupCache | None" = None,
                   key=None) -> bytes:
    """The verified plaintext of a blob from its unit's stored bytes (its own, or its group's)."""
    if loc.inner == ALONE:
        return codec.decode_blob(stored, blob_id, loc.plain_len)
    if groups is None:
        group = decode_group(codec, stored)
    else:
        group = groups.get(key, lambda: decode_group(codec, stored))
    return member(codec, group, blob_id, loc.inner, loc.plain_len)


class GroupCache:
    """Recently decoded groups, keyed by (pack id, offset), up to max_bytes of plaintext.

    Thread-safe; a group that one thread is decoding is waited for by the others rather than
    decoded twice (a restore's writer threads often want the same group at once)."""

    def __init__(self, max_bytes: int = 32 << 20):
        self.max_bytes = max_bytes
        self._groups: collections.OrderedDict = collections.OrderedDict()
        self._size = 0
        self._loading: dict = {}
        self._lock = threading.Lock()

    def __contains__(self, key) -> bool:
        """Whether the group is decoded now (its place in the eviction order stays)."""
        with self._lock:
            return key in self._groups

    def peek(self, key) -> bytes | None:
        with self._lock:
            group = self._groups.get(key)
            if group is not None:
                self._groups.move_to_end(key)
            return group

    def get(self, key, decode: Callable[[], bytes]) -> bytes:
        while True:
            with self._lock:
                group = self._groups.get(key)
                if group is not None:
                    self._groups.move_to_end(key)
                    return group
                loading = self._loading.get(key)
                mine = loading is None
                if mine:
                    loading = self._loading[key] = threading.Event()
            if not mine:
                loading.wait()
                continue  # cached now, or the loader failed and this thread tries itself
            try:
                group = decode()
                self._keep(key, group)
                return group
            finally:
                with self._lock:
                    self._loading.pop(key, None)
                loading.set()

    def _keep(self, key, group: bytes) -> None:
        with self._lock:
            if key in self._groups or len(group) > self.max_bytes:
                return
            self._groups[key] = group
            self._size += len(group)
            while self._size > self.max_bytes:
                _, old = self._groups.popitem(last=False)
                self._size -= len(old)
