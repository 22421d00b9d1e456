"""Ordered, bounded parallel loading of blobs for restore.

Blobs are fetched, decrypted, decompressed and verified in a thread pool (all of it
GIL-free work) while the caller writes earlier ones; at most `window` plaintext bytes
are in flight, so memory does not grow with file size.
"""

from __future__ import annotations

import collections
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Iterator


class BlobPrefetcher:
    def __init__(self, repo, pool: ThreadPoolExecutor, window: int = 32 * 1024 * 1024):
        self.repo = repo
        self.pool = pool
        self.window = window

    def iter_blobs(self, ids: Iterable[bytes]) -> Iterator[bytes]:
        pending: collections.deque = collections.deque()
        in_flight = 0
        ids = list(ids)
        # one search for all, and each location handed on: a lookup a blob in this thread and
        # another in the loading one each gave up the GIL and waited to get it back (a 100 MiB
        # file has about a hundred blobs)
        for blob_id, loc in zip(ids, self.repo.index.get_many(ids)):
            size = loc.plain_len if loc else 0
            while pending and in_flight + size > self.window:
                fut, n = pending.popleft()
                in_flight -= n
                yield fut.result()
            pending.append((self.pool.submit(self.repo.load_blob, blob_id, loc), size))
            in_flight += size
        while pending:
            fut, _ = pending.popleft()
            yield fut.result()
