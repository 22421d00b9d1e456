"""An in-memory store for tests, with hooks to inject damage and crashes."""

from __future__ import annotations

import threading
import time
from typing import Callable, Iterator

from sharebackup.engine.errors import ObjectExists, ObjectMissing
from sharebackup.engine.stores.base import ObjectInfo, Store


class MemoryStore(Store):
    def __init__(self) -> None:
        self.location = "memory:"
        self.objects: dict[str, bytes] = {}
        self.mtimes: dict[str, float] = {}
        self._lock = threading.Lock()
        #: called with the name before each put; tests raise from it to simulate a crash
        self.before_put: Callable[[str], None] | None = None

    def put_if_absent(self, name: str, data: bytes) -> bool:
        if self.before_put is not None:
            self.before_put(name)
        with self._lock:
            if name in self.objects:
                raise ObjectExists(name)
            self.objects[name] = bytes(data)
            self.mtimes[name] = time.time()
        return True

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        with self._lock:
            try:
                data = self.objects[name]
            except KeyError:
                raise ObjectMissing(name) from None
        if offset < 0:
            offset = max(0, len(data) + offset)
        end = len(data) if length is None else offset + length
        return data[offset:end]

    def head(self, name: str) -> ObjectInfo:
        with self._lock:
            if name not in self.objects:
                raise ObjectMissing(name)
            return ObjectInfo(name, len(self.objects[name]), self.mtimes[name])

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        with self._lock:
            items = [ObjectInfo(n, len(d), self.mtimes[n]) for n, d in self.objects.items() if n.startswith(prefix)]
        return iter(sorted(items, key=lambda i: i.name))

    def delete(self, name: str) -> None:
        with self._lock:
            if name not in self.objects:
                raise ObjectMissing(name)
            del self.objects[name]
            del self.mtimes[name]
