"""The five-call store interface every repository backend implements.

A store is a flat namespace of immutable objects named by '/'-separated keys
(`config`, `data/ab/abcd...`, `index/...`). The engine needs exactly five calls, chosen
so that an S3 store (issue 5) maps each one to a single request:

- `put_if_absent(name, data)`: create or fail with ObjectExists (S3: If-None-Match: *).
- `get(name, offset=0, length=None)`: whole object or a byte range (S3: Range header).
- `head(name)`: size and mtime, or ObjectMissing (S3: HEAD).
- `list(prefix)`: every object under a prefix, with size and mtime (S3: ListObjectsV2).
- `delete(name)`: remove; ObjectMissing if absent (S3: DELETE after HEAD).

Objects are never modified in place: the repository format only ever creates and
deletes, which is what makes crash safety and eventual-consistency stores workable.
Implementations must be safe to call from several threads at once.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Iterator


@dataclasses.dataclass(frozen=True)
class ObjectInfo:
    name: str
    size: int
    mtime: float  # seconds since the epoch; used by GC's grace period


class Store(abc.ABC):
    """Abstract base; see the module docstring for the contract of each call."""

    #: a URL-ish description for messages, e.g. "local:/srv/repo"
    location: str = "?"
    #: how many whole-object reads pay to run at once (a remote store's round trips overlap; a
    #: local disk's reads gain nothing from threads)
    parallel_reads: int = 1

    @abc.abstractmethod
    def put_if_absent(self, name: str, data: bytes) -> bool:
        """Store `data` under `name` durably. Raise ObjectExists if the name is taken.

        Returns True; the bool leaves room for stores that report dedup on the server.
        """

    @abc.abstractmethod
    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        """Return the object's bytes, or `length` bytes from `offset` (fewer at the end).

        A negative offset counts from the end (as an HTTP suffix range does), so a pack's
        trailer can be read without a head() first.
        """

    @abc.abstractmethod
    def head(self, name: str) -> ObjectInfo:
        """Return the object's size and mtime; ObjectMissing if absent."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield every object whose name starts with `prefix`, in no particular order."""

    @abc.abstractmethod
    def delete(self, name: str) -> None:
        """Remove the object; ObjectMissing if absent."""

    def close(self) -> None:  # pragma: no cover - stores without resources
        """Release connections or handles; the default has none."""

    def exists(self, name: str) -> bool:
        """Convenience built on head()."""
        from sharebackup.engine.errors import ObjectMissing

        try:
            self.head(name)
        except ObjectMissing:
            return False
        return True
