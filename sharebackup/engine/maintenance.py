"""Forget, garbage collection and statistics.

GC runs under the exclusive lock, so no backup can be deduplicating against blobs it
is about to drop. As a second line of defence (a backup whose lease expired while it was
paused), packs younger than `grace` seconds are never deleted or repacked.

Crash-safe order: new packs and their index are written first, then one consolidated
index delta, then the old deltas are deleted, and only then the old packs. A crash at
any point leaves either duplicates (merged harmlessly) or unindexed packs (deleted by
the next gc once older than the grace period).

Stopping safely: before every object it deletes, gc makes sure its own exclusive lock still
has at least LOCK_MARGIN of its lease left (a paused process whose lock may already have run
out must not go on deleting), and asks the caller's optional `keep_going()` (the service
checks its database lease there). When either says no it raises AbortedError; stopping there
is no different from a crash at that point, which the order above makes harmless.
"""

from __future__ import annotations

import time

from sharebackup.engine.errors import AbortedError, ObjectMissing
from sharebackup.engine.index import INDEX_AAD, delta_document
from sharebackup.engine.locks import RepoLock, remove_expired_locks
from sharebackup.engine.pack import PackEntry, pack_name
from sharebackup.engine.packer import BlobWriter
from sharebackup.engine.tree_walk import referenced_blobs

DEFAULT_GRACE = 3600.0
LOCK_MARGIN = 1 / 4  # of the lock's lease: never start a delete with less than this left


def forget(repo, snap_id: str) -> str:
    """Drop one snapshot manifest; its data stays until gc. Returns the full id."""
    with repo.lock(exclusive=True, purpose="forget"):
        full = repo.resolve_snapshot(snap_id)
        repo.store.delete(f"snapshots/{full}")
        return full


def gc(repo, *, grace: float = DEFAULT_GRACE, repack_threshold: float = 0.5, wait: float = 0.0,
       keep_going=None, forget=None) -> dict:
    """Remove unreferenced blobs; repack packs whose unused share exceeds the threshold.

    wait: seconds to keep trying for the exclusive lock while backups, restores or checks
        hold it (default: fail at once with LockedError).
    keep_going: optional callable, asked before every deletion; False stops gc with
        AbortedError (see the module docstring).
    forget: optional callable given the manifests (each with "id") of the snapshots whose
        manifest is older than `grace`; the ids it returns are forgotten, under the same
        lock, before the references are gathered.
    """
    stats = {"packs_deleted": 0, "packs_repacked": 0, "packs_written": 0, "bytes_freed": 0,
             "orphans_deleted": 0, "index_files_merged": 0, "locks_removed": 0, "snapshots_forgotten": 0}
    lock = RepoLock(repo.store, exclusive=True, purpose="gc", **({"lease": repo.lock_lease} if repo.lock_lease else {}))
    lock.acquire(wait, keep_going)
    with lock:

        def ensure(step: str) -> None:
            if lock.remaining() < lock.lease * LOCK_MARGIN:
                raise AbortedError(f"gc stopped before {step}: its repository lock is close to running out")
            if keep_going is not None and not keep_going():
                raise AbortedError(f"gc stopped before {step}: the caller asked to stop")

        def delete(name: str, step: str) -> None:
            ensure(step)
            _delete(repo.store, name)

        stats["locks_removed"] = remove_expired_locks(repo.store)
        if forget is not None:
            stats["snapshots_forgotten"] = _forget_chosen(repo, forget, grace, delete)
        repo.load_index()
        now = time.time()
        listing = {i.name.rsplit("/", 1)[1]: i for i in repo.store.list("data/")}
        young = {p for p, i in listing.items() if now - i.mtime < grace}
        trees, data = referenced_blobs(repo, repo.list_snapshots())
        used = trees | data

        by_pack = repo.index.entries_by_pack()
        drop: list[str] = []
        repack: list[str] = []
        for pack_id, blobs in by_pack.items():
            if pack_id in young:
                continue
            live = sum(loc.length for bid, loc in blobs if bid in used)
            total = sum(loc.length for _bid, loc in blobs) or 1
            if live == 0:
                drop.append(pack_id)
            elif 1 - live / total > repack_threshold:
                repack.append(pack_id)

        keep_entries = {p: [PackEntry(loc.type, bid, loc.offset, loc.length, loc.plain_len) for bid, loc in blobs]
                        for p, blobs in by_pack.items() if p not in drop and p not in repack}
        repo.index = _without(repo.index, drop + repack)  # so the writer stores copies anew
        writer = BlobWriter(repo, index_every=1 << 30)
        for pack_id in repack:
            blobs = [(bid, loc) for bid, loc in by_pack[pack_id] if bid in used]
            raw = repo.store.get(pack_name(pack_id))
            for bid, loc in blobs:
                if writer.claim(bid):
                    stored = raw[loc.offset:loc.offset + loc.length]
                    repo.codec.decode_blob(stored, bid, loc.plain_len)  # never copy damage forward
                    writer.add(loc.type, bid, stored, loc.plain_len)
        writer.flush()

        survivors = [(p, repo.index.packs.get(p, listing[p].size if p in listing else 0), e)
                     for p, e in keep_entries.items()]
        survivors += writer.written
        old_deltas = set(repo.index_ids())
        new_delta = repo.write_file("index", INDEX_AAD, delta_document(survivors, sorted(old_deltas)))
        for delta_id in old_deltas - {new_delta}:
            delete(f"index/{delta_id}", "merging the index")
            stats["index_files_merged"] += 1
        for pack_id in drop + repack:
            stats["bytes_freed"] += listing[pack_id].size if pack_id in listing else 0
            delete(pack_name(pack_id), "deleting packs")
        indexed = set(by_pack)
        for pack_id, info in listing.items():
            if pack_id not in indexed and pack_id not in young:
                delete(info.name, "deleting orphan packs")  # orphan of an interrupted backup
                stats["orphans_deleted"] += 1
                stats["bytes_freed"] += info.size
        stats["packs_deleted"] = len(drop)
        stats["packs_repacked"] = len(repack)
        stats["packs_written"] = len(writer.written)
        repo.load_index()
    return stats


def _forget_chosen(repo, choose, grace: float, delete) -> int:
    """Offer the caller the snapshots whose manifest was written more than `grace` ago (a
    younger one may belong to a backup that has not recorded it anywhere yet); forget the
    ones it names."""
    now = time.time()
    old = {i.name.split("/", 1)[1] for i in repo.store.list("snapshots/") if now - i.mtime >= grace}
    offered = [s for s in repo.list_snapshots() if s["id"] in old]
    chosen = set(choose(offered) or ()) & old
    for snap_id in sorted(chosen):
        delete(f"snapshots/{snap_id}", "forgetting snapshots")
    return len(chosen)


def _without(index, pack_ids):
    from sharebackup.engine.index import Index

    gone = set(pack_ids)
    fresh = Index()
    for pid, blobs in index.entries_by_pack().items():
        if pid not in gone:
            fresh.add_pack(pid, index.packs[pid], [PackEntry(l.type, b, l.offset, l.length, l.plain_len) for b, l in blobs])
    fresh.delta_ids = set(index.delta_ids)
    return fresh


def _delete(store, name: str) -> None:
    try:
        store.delete(name)
    except ObjectMissing:
        pass


def stats(repo) -> dict:
    """Counts and sizes: stored bytes, unique plaintext, and what the snapshots reference."""
    packs = list(repo.store.list("data/"))
    snaps = repo.list_snapshots()
    logical = sum(s.get("summary", {}).get("total_bytes", 0) for s in snaps)
    unique_plain = sum(loc.plain_len for loc in repo.index.blobs.values())
    unique_stored = sum(loc.length for loc in repo.index.blobs.values())
    return {
        "snapshots": len(snaps),
        "packs": len(packs),
        "repository_bytes": sum(p.size for p in packs),
        "index_files": len(repo.index_ids()),
        "blobs": len(repo.index.blobs),
        "unique_plain_bytes": unique_plain,
        "unique_stored_bytes": unique_stored,
        "snapshots_logical_bytes": logical,
        "compression_ratio": round(unique_plain / unique_stored, 3) if unique_stored else None,
        "dedup_ratio": round(logical / unique_plain, 3) if unique_plain else None,
    }
