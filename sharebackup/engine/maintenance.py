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
from dataclasses import dataclass, field

from sharebackup.engine.blob_groups import GroupCache, decode_located
from sharebackup.engine.errors import AbortedError, ObjectMissing
from sharebackup.engine.index_delta import INDEX_AAD, delta_document
from sharebackup.engine.locks import RepoLock, remove_expired_locks
from sharebackup.engine.pack import ALONE, PackEntry, pack_name
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
             "orphans_deleted": 0, "index_files_merged": 0, "locks_removed": 0, "snapshots_forgotten": 0,
             "packs_kept_for_grace": 0}
    lock = RepoLock(repo.store, exclusive=True, purpose="gc", **({"lease": repo.lock_lease} if repo.lock_lease else {}))
    lock.acquire(wait, keep_going)
    with lock:
        delete = _guarded_delete(repo.store, lock, keep_going)
        stats["locks_removed"] = remove_expired_locks(repo.store)
        if forget is not None:
            stats["snapshots_forgotten"] = _forget_chosen(repo, forget, grace, delete)
        repo.load_index()
        plan = _plan(repo, grace, repack_threshold)
        written = _repack(repo, plan)
        stats["index_files_merged"] = _merge_index(repo, plan, written, delete)
        _delete_packs(plan, delete, stats)
        stats["packs_deleted"] = len(plan.drop)
        stats["packs_repacked"] = len(plan.repack)
        stats["packs_written"] = len(written)
        stats["packs_kept_for_grace"] = plan.young_with_garbage
        repo.load_index()
    return stats


def _guarded_delete(store, lock: RepoLock, keep_going):
    """delete(name, step): removes one object, but first makes sure that gc may still delete
    (its lock has LOCK_MARGIN left, the caller's keep_going() says yes); AbortedError if not."""

    def ensure(step: str) -> None:
        if lock.remaining() < lock.lease * LOCK_MARGIN:
            raise AbortedError(f"gc stopped before {step}: its repository lock is close to running out")
        if keep_going is not None and not keep_going():
            raise AbortedError(f"gc stopped before {step}: the caller asked to stop")

    def delete(name: str, step: str) -> None:
        ensure(step)
        _delete(store, name)
    return delete


@dataclass
class _Plan:
    """What one gc found: the stored packs, which of them are too young to touch, the blobs the
    snapshots use, the index's packs, and which packs to drop (nothing used) or repack."""
    listing: dict  # pack id -> ObjectInfo of every pack in the store
    young: set
    used: set
    by_pack: dict  # pack id -> [(blob id, location)] as the index has them
    drop: list = field(default_factory=list)
    repack: list = field(default_factory=list)
    young_with_garbage: int = 0  # packs gc would drop or repack but for the grace


def _plan(repo, grace: float, repack_threshold: float) -> _Plan:
    now = time.time()
    listing = {i.name.rsplit("/", 1)[1]: i for i in repo.store.list("data/")}
    young = {p for p, i in listing.items() if now - i.mtime < grace}
    trees, data = referenced_blobs(repo, repo.list_snapshots())
    plan = _Plan(listing, young, trees | data, repo.index.entries_by_pack())
    for pack_id, blobs in plan.by_pack.items():
        live = _unit_bytes(blobs, plan.used)
        total = _unit_bytes(blobs) or 1
        if pack_id in young:
            plan.young_with_garbage += live == 0 or 1 - live / total > repack_threshold
            continue
        if live == 0:
            plan.drop.append(pack_id)
        elif 1 - live / total > repack_threshold:
            plan.repack.append(pack_id)
    return plan


def _unit_bytes(blobs, used=None) -> float:
    """Stored bytes of the used blobs (all blobs without ``used``): a blob stored alone has its
    own; a group's bytes count once and are shared among its members by plain length, so a
    group whose members are mostly dead makes its pack a candidate for repacking."""
    units: dict[int, list] = {}  # offset -> [stored length, plain of all members, plain of the used]
    for bid, loc in blobs:
        unit = units.setdefault(loc.offset, [loc.length, 0, 0, False])
        unit[1] += loc.plain_len
        if used is None or bid in used:
            unit[2] += loc.plain_len
            unit[3] = True
    return sum(length * (live / total if total else float(any_used)) for length, total, live, any_used in units.values())


def _repack(repo, plan: _Plan) -> list:
    """Copy the used blobs of the packs to repack into new packs (the index forgets the packs to
    drop or repack first, so the writer stores copies anew); returns the packs written. A blob
    stored alone is copied as stored; the used members of a group are grouped anew, so a
    group's dead members are dropped too."""
    repo.index = _without(repo.index, plan.drop + plan.repack)
    writer = BlobWriter(repo, index_every=1 << 30, keep_written=True)
    try:
        _copy_used(repo, plan, writer)
        writer.flush()
    finally:
        writer.close()
    return writer.written


def _copy_used(repo, plan: _Plan, writer: BlobWriter) -> None:
    for pack_id in plan.repack:
        blobs = [(bid, loc) for bid, loc in plan.by_pack[pack_id] if bid in plan.used]
        raw = repo.store.get(pack_name(pack_id))
        groups = GroupCache(64 << 20)  # each group of the pack decoded once
        regroup: dict[int, list[bytes]] = {}
        for bid, loc in blobs:
            stored = raw[loc.offset:loc.offset + loc.length]
            if loc.inner == ALONE and not writer.claim(bid):
                continue
            # verified against its id: never copy damage forward
            data = decode_located(repo.codec, stored, bid, loc, groups, loc.offset)
            if loc.inner != ALONE:
                regroup.setdefault(loc.type, []).append(data)
            else:
                writer.add(loc.type, bid, stored, loc.plain_len)
        for blob_type, datas in regroup.items():
            writer.store_blobs(blob_type, datas)


def _merge_index(repo, plan: _Plan, written: list, delete) -> int:
    """One index delta for every pack that stays (kept and newly written), then the old deltas
    go; returns how many went."""
    gone = set(plan.drop) | set(plan.repack)
    kept = {p: [PackEntry(loc.type, bid, loc.offset, loc.length, loc.plain_len, loc.inner) for bid, loc in blobs]
            for p, blobs in plan.by_pack.items() if p not in gone}
    survivors = [(p, repo.index.packs.get(p, plan.listing[p].size if p in plan.listing else 0), e)
                 for p, e in kept.items()]
    survivors += written
    old_deltas = set(repo.index_ids())
    new_delta = repo.write_file("index", INDEX_AAD, delta_document(survivors, sorted(old_deltas),
                                                                   version=repo.index_format))
    merged = 0
    for delta_id in old_deltas - {new_delta}:
        delete(f"index/{delta_id}", "merging the index")
        merged += 1
    return merged


def _delete_packs(plan: _Plan, delete, stats: dict) -> None:
    """Delete the dropped and repacked packs, then the orphans (packs no index names, of an
    interrupted backup) once older than the grace period."""
    for pack_id in plan.drop + plan.repack:
        stats["bytes_freed"] += plan.listing[pack_id].size if pack_id in plan.listing else 0
        delete(pack_name(pack_id), "deleting packs")
    indexed = set(plan.by_pack)
    for pack_id, info in plan.listing.items():
        if pack_id not in indexed and pack_id not in plan.young:
            delete(info.name, "deleting orphan packs")  # orphan of an interrupted backup
            stats["orphans_deleted"] += 1
            stats["bytes_freed"] += info.size


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
            fresh.add_pack(pid, index.packs[pid], [PackEntry(l.type, b, l.offset, l.length, l.plain_len, l.inner)
                                                   for b, l in blobs])
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
    blobs, unique_plain, unique_stored = repo.index.totals()
    return {
        "snapshots": len(snaps),
        "packs": len(packs),
        "repository_bytes": sum(p.size for p in packs),
        "index_files": len(repo.index_ids()),
        "blobs": blobs,
        "unique_plain_bytes": unique_plain,
        "unique_stored_bytes": unique_stored,
        "snapshots_logical_bytes": logical,
        "compression_ratio": round(unique_plain / unique_stored, 3) if unique_stored else None,
        "dedup_ratio": round(logical / unique_plain, 3) if unique_plain else None,
    }
