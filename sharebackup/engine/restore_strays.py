"""Small files whose blob lies in a group the restore is not reading now ("strays"): set aside
and written once the walk is done, in group order.

A format-3 repository stores small files' blobs in groups of up to 512 (4 MiB) in the backup's
walk order, and the restore walks the same order, so it decodes each group about once. Not for
a file whose blob was deduplicated against a file elsewhere in the tree (a copy): its group is
usually not the one being read, and each such file cost decoding a whole group for one blob.
The benchmark tree's 500 copies made 399 group decodes for its 50 groups (506 MB of stored
bytes decoded instead of 62 MB, 2 s of CPU).

A batch's file is a stray if its blob is in a group that no other file of the batch uses and
that is not decoded already (Repository.groups). A stray keeps its directory open (a reference
on the DirHandle, so the directory's metadata waits for it) until it is written: when MAX_STRAYS
are waiting (each may hold a directory fd) and when the walk is done, sorted by group, so each
group is decoded once for all of them.
"""

from __future__ import annotations

import collections
import threading

from sharebackup.engine.pack import ALONE

MAX_STRAYS = 256


class Strays:
    def __init__(self, repo):
        self.repo = repo
        self._items: list[tuple] = []  # (group key, DirHandle with a reference held, node, rel)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def set_aside(self, handle, batch: list[tuple[dict, str]]) -> list[tuple[dict, str]]:
        """The files of a directory's batch to write now; the strays among them are kept here."""
        keys = self._groups_of([node for node, _ in batch])
        counts = collections.Counter(key for key in keys if key is not None)
        kept, strays = [], []
        for (node, rel), key in zip(batch, keys):
            if key is not None and counts[key] == 1 and key not in self.repo.groups:
                strays.append((key, handle.ref(), node, rel))
            else:
                kept.append((node, rel))
        if strays:
            with self._lock:
                self._items += strays
        return kept

    def _groups_of(self, nodes: list[dict]) -> list:
        """Each node's group key, (pack, offset), or None: not one blob, or a blob stored alone."""
        single = [[c for c in node.get("content", ()) if isinstance(c, str)] for node in nodes]
        asked = [i for i, ids in enumerate(single) if len(ids) == 1]
        keys: list = [None] * len(nodes)
        for i, loc in zip(asked, self.repo.index.get_many([bytes.fromhex(single[i][0]) for i in asked])):
            if loc is not None and loc.inner != ALONE:
                keys[i] = (loc.pack_id, loc.offset)
        return keys

    def take(self) -> list[tuple]:
        """Every stray set aside so far, in group order; their references are the caller's now."""
        with self._lock:
            items, self._items = self._items, []
        items.sort(key=lambda item: item[0])
        return items

    def release(self) -> None:
        """Give up the strays not written (a failed restore): their directories may close."""
        for _, handle, _, _ in self.take():
            handle.unref()
