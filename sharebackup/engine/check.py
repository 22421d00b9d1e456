"""Repository check: structure always, data on request.

Structure: every index delta matches its name and decodes; every indexed pack exists
with the recorded size; every snapshot matches its name and decodes; every reachable
tree loads, verifies against its id and has safe names; every blob a tree references is
in the index with the right type. Data (`read_data=True`, or a fraction such as 0.1 for
a random subset of packs): each pack is read whole and must hash to its name, its
trailer must agree with the index, and every blob must decode and match its id.
"""

from __future__ import annotations

import dataclasses
import struct
import random

from sharebackup.engine.blob_groups import GroupCache, decode_located
from sharebackup.engine.codec import Codec
from sharebackup.engine.errors import EngineError, IntegrityError
from sharebackup.engine.index import Index
from sharebackup.engine.index_delta import INDEX_AAD
from sharebackup.engine.pack import BLOB_DATA, BLOB_TREE, pack_name, parse_trailer
from sharebackup.engine.tree_walk import iter_trees


@dataclasses.dataclass
class CheckResult:
    errors: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    stats: dict = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def check(repo, *, read_data: bool | float = False, progress=None, seed: int | None = None) -> CheckResult:
    result = CheckResult()
    with repo.lock(exclusive=False, purpose="check"):
        _check_index(repo, result)
        _check_packs_present(repo, result)
        _check_snapshots(repo, result)
        if read_data:
            fraction = 1.0 if read_data is True else float(read_data)
            _check_data(repo, result, fraction, progress, seed)
    return result


def _check_index(repo, result: CheckResult) -> None:
    index = Index()
    for delta_id in repo.index_ids():
        try:
            index.merge_delta(delta_id, repo.read_file("index", delta_id, INDEX_AAD))
        except (EngineError, ValueError, KeyError, TypeError, struct.error) as exc:
            result.errors.append(f"index {delta_id}: unreadable or damaged: {exc}")
    try:
        index.seal()
    except ValueError as exc:
        result.errors.append(f"index: damaged: {exc}")
    repo.index = index  # check the rest against what is readable
    result.stats["index_files"] = len(index.delta_ids)
    result.stats["blobs"] = len(index.blobs)


def _check_packs_present(repo, result: CheckResult) -> None:
    present = {i.name.rsplit("/", 1)[1]: i.size for i in repo.store.list("data/")}
    for pack_id, size in repo.index.packs.items():
        if pack_id not in present:
            result.errors.append(f"pack {pack_id}: in the index but missing from the store")
        elif present[pack_id] != size:
            result.errors.append(f"pack {pack_id}: size {present[pack_id]} but the index says {size}")
    orphans = set(present) - set(repo.index.packs)
    if orphans:
        result.warnings.append(f"{len(orphans)} pack(s) not in the index (left by an interrupted backup; "
                               "the next backup indexes them, gc removes unused ones)")
    result.stats["packs"] = len(present)


def _check_snapshots(repo, result: CheckResult) -> None:
    snaps = []
    for snap_id in repo.snapshot_ids():
        try:
            snaps.append(repo.load_snapshot(snap_id))
        except (EngineError, ValueError) as exc:
            result.errors.append(f"snapshot {snap_id}: unreadable or damaged: {exc}")
    result.stats["snapshots"] = len(snaps)

    def tree_error(tree_id, exc):
        result.errors.append(f"tree {tree_id}: {exc}")

    trees = 0
    for snap in snaps:
        for tree_id, nodes in iter_trees(repo, [snap["tree"]], None, tree_error):
            trees += 1
            for node in nodes:
                for item in node.get("content", ()):
                    if isinstance(item, int):
                        continue
                    loc = repo.index.get(bytes.fromhex(item))
                    if loc is None:
                        result.errors.append(f"tree {tree_id}: file {node['name']!r} needs blob {item} which is missing")
                    elif loc.type != BLOB_DATA:
                        result.errors.append(f"tree {tree_id}: blob {item} is not a data blob")
    result.stats["trees_checked"] = trees


def _check_data(repo, result: CheckResult, fraction: float, progress, seed) -> None:
    by_pack = repo.index.entries_by_pack()
    packs = sorted(by_pack)
    if fraction < 1.0:
        rnd = random.Random(seed)
        packs = sorted(rnd.sample(packs, max(1, round(len(packs) * fraction)))) if packs else []
    codec: Codec = repo.codec
    for done, pack_id in enumerate(packs, 1):
        name = pack_name(pack_id)
        try:
            data = repo.store.get(name)
        except EngineError as exc:
            result.errors.append(f"pack {pack_id}: cannot read: {exc}")
            continue
        if Codec.content_id(data) != pack_id:
            result.errors.append(f"pack {pack_id}: content does not match its name (damaged)")
        try:
            trailer = {e.id: e for e in parse_trailer(codec, data, len(data))}
        except IntegrityError as exc:
            result.errors.append(f"pack {pack_id}: trailer damaged: {exc}")
            trailer = {}
        groups = GroupCache(64 << 20)  # each group of the pack decoded once, for all its members
        for blob_id, loc in by_pack[pack_id]:
            t = trailer.get(blob_id)
            if trailer and (t is None or (t.offset, t.length, t.inner) != (loc.offset, loc.length, loc.inner)):
                result.errors.append(f"pack {pack_id}: trailer disagrees with the index for blob {blob_id.hex()}")
            try:
                decode_located(codec, data[loc.offset:loc.offset + loc.length], blob_id, loc, groups, loc.offset)
            except IntegrityError as exc:
                kind = "tree" if loc.type == BLOB_TREE else "data"
                result.errors.append(f"pack {pack_id}: {kind} blob {blob_id.hex()}: {exc}")
        if progress:
            progress(done, len(packs))
    result.stats["packs_read"] = len(packs)
