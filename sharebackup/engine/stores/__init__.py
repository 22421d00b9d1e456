"""Store backends and `open_store`, the factory that turns a URL or a path into one.

Accepted forms: a plain path or `local:PATH` or `file://PATH` (LocalStore), `memory:`
(a fresh MemoryStore, for tests), `s3://bucket/prefix?endpoint=...&region=...` (S3Store;
parameters and credentials are described in stores/s3.py). boto3 is imported only when an
S3 store is opened.
"""

from __future__ import annotations

from sharebackup.engine.stores.base import ObjectInfo, Store
from sharebackup.engine.stores.local import LocalStore
from sharebackup.engine.stores.memory import MemoryStore

__all__ = ["ObjectInfo", "Store", "LocalStore", "MemoryStore", "open_store"]


def open_store(url_or_path: str) -> Store:
    if url_or_path == "memory:":
        return MemoryStore()
    if url_or_path.startswith("s3://"):
        from sharebackup.engine.stores.s3 import open_s3_url

        return open_s3_url(url_or_path)
    if url_or_path.startswith("file://"):
        return LocalStore(url_or_path[len("file://"):])
    if url_or_path.startswith("local:"):
        return LocalStore(url_or_path[len("local:"):])
    return LocalStore(url_or_path)
