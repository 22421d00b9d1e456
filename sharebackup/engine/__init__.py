"""sharebackup.engine: a deduplicating, compressing, encrypting backup engine.

A standalone library: it imports nothing from the api, db or services packages.
The repository format is described in docs/repository-format.md (format version 1).

Public API (everything a caller such as the issue-4 worker needs)::

    from sharebackup import engine

    store = engine.open_store("/srv/repo")          # or "memory:", "s3://bucket/prefix?endpoint=..."
    repo = engine.Repository.init(store, key=b"secret")   # key=None: no encryption
    repo = engine.Repository.open(store, key=b"secret")

    snap_id = engine.backup(repo, "/path/to/share",
                            parent=None,              # snapshot id/prefix or "latest": unchanged files are not re-read
                            progress=cb,              # cb(done_bytes, total_bytes), from any thread, ~10/s
                            report=rcb,               # rcb(path, kind, message) per file problem
                            hostname="worker-1", tags=["backup-id"],
                            options=engine.BackupOptions(workers=2, max_inflight_bytes=16 << 20,
                                                         exclude_names=("lost+found",)))  # skipped at any depth
    summary = engine.restore(repo, snap_id, "/target", mode="merge" | "replace",
                             progress=cb, report=rcb,   # summary["errors"] lists per-file failures
                             exclude_names=("lost+found",))  # neither written nor (replace) removed
    engine.forget(repo, snap_id)                       # drop one snapshot manifest
    gc_stats = engine.gc(repo, grace=3600)             # remove unreferenced data, repack sparse packs
                       # optional: wait=S (for running backups), keep_going=f (checked before every
                       # delete; AbortedError when it says no), forget=f(manifests) -> ids to forget first
    result = engine.check(repo, read_data=False | True | 0.1)   # result.ok, result.errors
    repo.list_snapshots()                              # manifests, oldest first, each with "id"
    engine.stats(repo)                                 # sizes and counts
    engine.change_passphrase(store, old, new)          # rewrap the master key; data untouched

Errors are subclasses of `engine.EngineError` (IntegrityError, LockedError,
WrongKeyError, SnapshotNotFound, RepositoryError, UnsafePathError, StoreError).
Progress and report callbacks may be called from engine worker threads and must be
thread-safe and quick. Long operations take a repository lock with a lease (shared
for backup, restore and check; exclusive for forget and gc).
"""

from sharebackup.engine.backup import BackupOptions, backup
from sharebackup.engine.check import CheckResult, check
from sharebackup.engine.errors import (
    AbortedError,
    EngineError,
    IntegrityError,
    LockedError,
    RepositoryError,
    SnapshotNotFound,
    StoreError,
    UnsafePathError,
    WrongKeyError,
)
from sharebackup.engine.keys import change_passphrase, read_key_file
from sharebackup.engine.maintenance import forget, gc, stats
from sharebackup.engine.repository import FORMAT_VERSION, Repository
from sharebackup.engine.restore import restore
from sharebackup.engine.stores import LocalStore, MemoryStore, Store, open_store

__all__ = [
    "AbortedError", "BackupOptions", "CheckResult", "EngineError", "FORMAT_VERSION", "IntegrityError", "LocalStore",
    "LockedError", "MemoryStore", "Repository", "RepositoryError", "SnapshotNotFound", "Store",
    "StoreError", "UnsafePathError", "WrongKeyError", "backup", "check", "forget", "gc",
    "open_store", "restore", "stats", "change_passphrase", "read_key_file",
]
