"""What a backup's walk holds until it can finish a directory's tree (backup_walk.py).

A directory's tree is encoded once every chunk of its files is stored: small files' blobs wait
in a Batch (a Slot stands for one of them), a large file's whole read in a LargeRead, and the
directory itself in a PendingTree.
"""

from __future__ import annotations

from concurrent.futures import Future


class Batch:
    """Blobs of small files waiting to go to the pool together."""

    __slots__ = ("items", "size", "future")

    def __init__(self) -> None:
        self.items: list[bytes] | None = []  # None once sent
        self.size = 0
        self.future: Future | None = None


class Slot:
    """One blob of a batch: looks like the Future of that blob alone."""

    __slots__ = ("batch", "i")

    def __init__(self, batch: Batch, i: int):
        self.batch, self.i = batch, i

    def done(self) -> bool:
        return self.batch.future is not None and self.batch.future.done()

    def result(self) -> bytes:
        return self.batch.future.result()[self.i]


PENDING = (Future, Slot)


class LargeRead:
    """A large file being read by the reader thread: the Future of its file_reader.Content, done
    once the chunks read are stored too (as the Futures of a small file's chunks are); with the
    file's path (for a report) and whether the parent snapshot had it (for the counts)."""

    __slots__ = ("future", "rel", "had_parent")

    def __init__(self, future: Future, rel: bytes, had_parent: bool):
        self.future, self.rel, self.had_parent = future, rel, had_parent

    def done(self) -> bool:
        if not self.future.done():
            return False
        if self.future.exception() is not None:
            return True
        return all(p.done() for p in self.future.result().pieces if isinstance(p, PENDING))


class PendingTree:
    __slots__ = ("nodes", "futures", "tree_id", "parent", "large_reads")

    def __init__(self, parent: dict | None) -> None:
        self.nodes: list[dict] = []
        self.futures: list[Future | Slot] = []
        self.tree_id: str | None = None
        self.parent = parent  # the parent snapshot's nodes of this directory, by name, or None
        self.large_reads = False  # a node's content is a LargeRead

    def ready(self) -> bool:
        return all(f.done() for f in self.futures)
