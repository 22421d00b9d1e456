"""The repository: config, keys, index, blobs, trees and snapshot manifests over a store.

Layout in the store (full description in docs/repository-format.md):
    config                  plain JSON, format version and parameters
    keys/<id>               master key wrapped under a passphrase (encrypted repos only)
    data/<xx>/<pack id>     packs of blobs
    index/<id>              write-once index deltas
    snapshots/<id>          snapshot manifests, the only commit point of a backup
    locks/<id>              leases
Every object except config, keys and locks is named by the BLAKE3 hash of its stored
bytes and verified against that name when read.
"""

from __future__ import annotations

import contextlib
import json
import os
import time

import pyfastcdc

from sharebackup.engine import keys as keymod
from sharebackup.engine.blob_groups import GroupCache, decode_located, member
from sharebackup.engine.codec import Codec
from sharebackup.engine.errors import (
    IntegrityError,
    ObjectExists,
    ObjectMissing,
    RepositoryError,
    SnapshotNotFound,
    WrongKeyError,
)
from sharebackup.engine.index import BlobLocation, Index
from sharebackup.engine.index_delta import INDEX_AAD, delta_document
from sharebackup.engine.malloc_tuning import release_free_memory
from sharebackup.engine.locks import RepoLock
from sharebackup.engine.pack import ALONE, BLOB_TREE, pack_name, read_trailer_from_store
from sharebackup.engine.stores.base import Store
from sharebackup.engine.context_pool import ContextThreadPool

FORMAT_NAME = "sharebackup-repository"
# new repositories: small blobs stored in groups (engine/blob_groups.py); versions 1 (JSON index
# deltas) and 2 (binary deltas, every blob alone) stay readable and keep being written as they are
FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
MAX_PACK_SIZE = 1 << 30  # pack offsets are 32-bit in the index
SNAPSHOT_AAD = b"snapshot"

DEFAULTS = {
    "pack_size": 16 * 1024 * 1024,
    "chunker": {"algorithm": "fastcdc-2020", "avg_size": 1 << 20, "min_size": 256 << 10, "max_size": 4 << 20},
    # level 4 costs what 3 does here and stores 1% less (docs/benchmarks.md, "Repository size")
    "compression": {"algorithm": "zstd", "level": 4},
}


class Repository:
    def __init__(self, store: Store, config: dict, master: keymod.MasterKey | None):
        self.store = store
        self.config = config
        self.master = master
        self.codec = Codec(master, config["compression"]["level"])
        self.index = Index()
        self.groups = GroupCache()  # decoded blob groups, for reads of their members
        # Lease of the locks this process takes (None: the engine's default). A caller that
        # restarts dead work quickly (the job workers) sets it short, so a killed process's
        # lock does not block others for long; the lock is renewed every third of it.
        self.lock_lease: float | None = None

    # -- creation and opening ------------------------------------------------
    @classmethod
    def init(
        cls,
        store: Store,
        *,
        key: bytes | None = None,
        scrypt_n: int = keymod.DEFAULT_SCRYPT_N,
        pack_size: int | None = None,
        chunker: dict | None = None,
        compression_level: int | None = None,
        format_version: int = FORMAT_VERSION,
    ) -> "Repository":
        if store.exists("config"):
            raise RepositoryError(f"a repository already exists at {store.location}")
        if pack_size is not None and not 1 << 16 <= pack_size <= MAX_PACK_SIZE:
            raise RepositoryError(f"pack size must be between 64 KiB and {MAX_PACK_SIZE >> 20} MiB")
        if format_version not in READABLE_VERSIONS:  # an older one: for engines that know no newer
            raise RepositoryError(f"unsupported repository format version {format_version}")
        config = {
            "format": FORMAT_NAME,
            "version": format_version,
            "id": os.urandom(16).hex(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "encryption": "aes-256-gcm" if key else "none",
            "blob_id": "blake3-keyed" if key else "blake3",
            "pack_size": pack_size or DEFAULTS["pack_size"],
            "chunker": dict(chunker or DEFAULTS["chunker"]),
            "compression": dict(DEFAULTS["compression"]),
        }
        config["chunker"]["seed"] = "from-key" if key else 0
        if compression_level is not None:
            config["compression"]["level"] = compression_level
        master = None
        key_name = None
        if key:
            master = keymod.MasterKey.generate()
            config["master_key_check"] = master.check
            key_name = keymod.add_key(store, master, key, scrypt_n=scrypt_n)
        # config last: a repository without config is not a repository yet
        try:
            store.put_if_absent("config", json.dumps(config, indent=2, sort_keys=True).encode())
        except ObjectExists:
            # Another process created the repository between our check and our write. Our key
            # object wraps a master key that repository never used: remove it, or a later open
            # with the same passphrase could unwrap the wrong master key.
            if key_name:
                store.delete(key_name)
            raise RepositoryError(f"a repository already exists at {store.location}") from None
        repo = cls(store, config, master)
        return repo

    @classmethod
    def open(cls, store: Store, *, key: bytes | None = None, load_index: bool = True) -> "Repository":
        try:
            config = json.loads(store.get("config"))
        except ObjectMissing:
            raise RepositoryError(f"no repository at {store.location}") from None
        except ValueError:
            raise RepositoryError("repository config is not valid JSON") from None
        if config.get("format") != FORMAT_NAME:
            raise RepositoryError("not a sharebackup repository")
        if config.get("version") not in READABLE_VERSIONS:
            raise RepositoryError(f"unsupported repository format version {config.get('version')}")
        master = None
        if config["encryption"] != "none":
            if not key:
                raise WrongKeyError("this repository is encrypted: a key file or passphrase is needed")
            master, _ = keymod.find_master_key(store, key, config.get("master_key_check"))
        repo = cls(store, config, master)
        if load_index:
            repo.load_index()
        return repo

    # -- generic content-addressed files -----------------------------------------
    def write_file(self, prefix: str, aad: bytes, payload: bytes) -> str:
        stored = self.codec.encode(payload, aad)
        file_id = Codec.content_id(stored)
        try:
            self.store.put_if_absent(f"{prefix}/{file_id}", stored)
        except ObjectExists:
            pass
        return file_id

    def read_file(self, prefix: str, file_id: str, aad: bytes) -> bytes:
        return self._decode_file(prefix, file_id, aad, self.store.get(f"{prefix}/{file_id}"))

    def _decode_file(self, prefix: str, file_id: str, aad: bytes, stored: bytes) -> bytes:
        if Codec.content_id(stored) != file_id:
            raise IntegrityError(f"{prefix}/{file_id} does not match its name")
        return self.codec.decode(stored, aad)

    # -- index -------------------------------------------------------------------
    def index_ids(self) -> list[str]:
        return [i.name.split("/", 1)[1] for i in self.store.list("index/")]

    def load_index(self) -> None:
        index = Index()
        ids = self.index_ids()

        def fetch(delta_id):
            return delta_id, self.store.get(f"index/{delta_id}")

        # Only the reads run in threads, and only for a remote store (an S3 round trip each):
        # what a thread allocates stays in its malloc arena, whose free top glibc's malloc_trim
        # does not give back (10,000,000 blobs took 71 bytes each instead of 61), and the decoded
        # deltas live until seal(): decoded here, they stay in the main arena.
        with contextlib.ExitStack() as stack:
            if self.store.parallel_reads > 1:
                fetched = stack.enter_context(ContextThreadPool(self.store.parallel_reads)).map(fetch, ids)
            else:
                fetched = map(fetch, ids)
            for delta_id, stored in fetched:
                index.merge_delta(delta_id, self._decode_file("index", delta_id, INDEX_AAD, stored))
        index.seal()
        release_free_memory()  # the merge's temporaries: only the sorted columns stay
        self.index = index

    @property
    def index_format(self) -> int:
        """The index delta format this repository writes: its format version's (1 JSON, 2 binary,
        3 binary with blob groups)."""
        return min(int(self.config.get("version", 1)), 3)

    @property
    def grouped(self) -> bool:
        """Whether new small blobs are stored in groups (format version 3 on)."""
        return self.index_format >= 3

    def recover_unindexed_packs(self, *, min_age: float = 0.0) -> int:
        """Index packs that a crashed backup uploaded but never indexed; returns how many.

        Reads only each orphan's trailer. `min_age` skips packs so young that a running
        backup may still be about to index them (harmless either way: deltas merge).
        """
        now = time.time()
        found = []
        for info in self.store.list("data/"):
            pack_id = info.name.rsplit("/", 1)[1]
            if pack_id in self.index.packs or now - info.mtime < min_age:
                continue
            try:
                entries = read_trailer_from_store(self.store, self.codec, info.name, info.size)
            except IntegrityError:
                continue  # a damaged orphan; check reports it
            found.append((pack_id, info.size, entries))
        if found:
            delta_id = self.write_file("index", INDEX_AAD, delta_document(found, version=self.index_format))
            self.index.delta_ids.add(delta_id)
            for pack_id, size, entries in found:
                self.index.add_pack(pack_id, size, entries)
        return len(found)

    # -- blobs ---------------------------------------------------------------------
    def load_blob(self, blob_id: bytes, loc: BlobLocation | None = None) -> bytes:
        """The blob, verified; `loc`: its location, when the caller has looked it up already."""
        loc = loc or self.index.get(blob_id)
        if loc is None:
            raise IntegrityError(f"blob {blob_id.hex()} is not in the index")
        cached = self._decoded_member(blob_id, loc)
        if cached is not None:
            return cached
        stored = self.store.get(pack_name(loc.pack_id), loc.offset, loc.length)
        if len(stored) != loc.length:
            raise IntegrityError(f"pack {loc.pack_id} is shorter than the index says")
        return decode_located(self.codec, stored, blob_id, loc, self.groups, (loc.pack_id, loc.offset))

    def _decoded_member(self, blob_id: bytes, loc) -> bytes | None:
        """The blob from its group decoded for an earlier read (verified), or None: no read needed."""
        group = self.groups.peek((loc.pack_id, loc.offset)) if loc.inner != ALONE else None
        return None if group is None else member(self.codec, group, blob_id, loc.inner, loc.plain_len)

    def load_blobs(self, blob_ids: list[bytes], *, max_gap: int = 256 * 1024, max_span: int = 16 * 1024 * 1024
                   ) -> list[bytes]:
        """Several blobs, in the order asked, each verified: blobs lying close together in one
        pack (a directory's small files usually do) come in one read of the span that holds them."""
        locs = []
        out: list = [None] * len(blob_ids)
        for i, (blob_id, loc) in enumerate(zip(blob_ids, self.index.get_many(blob_ids))):
            if loc is None:
                raise IntegrityError(f"blob {blob_id.hex()} is not in the index")
            out[i] = self._decoded_member(blob_id, loc)
            if out[i] is None:
                locs.append((loc.pack_id, loc.offset, i, loc))
        locs.sort()
        start = 0
        while start < len(locs):
            pack_id, first, _, _ = locs[start]
            end, stop = start + 1, first + locs[start][3].length
            while (end < len(locs) and locs[end][0] == pack_id and locs[end][1] - stop <= max_gap
                   and locs[end][1] + locs[end][3].length - first <= max_span):
                stop = max(stop, locs[end][1] + locs[end][3].length)
                end += 1
            span = memoryview(self.store.get(pack_name(pack_id), first, stop - first))
            for _, offset, i, loc in locs[start:end]:
                stored = span[offset - first:offset - first + loc.length]
                if len(stored) != loc.length:
                    raise IntegrityError(f"pack {pack_id} is shorter than the index says")
                out[i] = decode_located(self.codec, stored, blob_ids[i], loc, self.groups, (pack_id, offset))
            start = end
        return out

    def load_tree(self, tree_id: bytes) -> dict:
        loc = self.index.get(tree_id)
        if loc is not None and loc.type != BLOB_TREE:
            raise IntegrityError(f"blob {tree_id.hex()} is not a tree")
        return json.loads(self.load_blob(tree_id, loc))

    def chunker(self) -> pyfastcdc.FastCDC:
        c = self.config["chunker"]
        seed = self.master.chunker_seed if self.master else 0
        return pyfastcdc.FastCDC(c["avg_size"], min_size=c["min_size"], max_size=c["max_size"], seed=seed)

    # -- snapshots -----------------------------------------------------------------
    def save_snapshot(self, doc: dict) -> str:
        return self.write_file("snapshots", SNAPSHOT_AAD, json.dumps(doc, sort_keys=True).encode())

    def snapshot_ids(self) -> list[str]:
        return [i.name.split("/", 1)[1] for i in self.store.list("snapshots/")]

    def load_snapshot(self, snap_id: str) -> dict:
        doc = json.loads(self.read_file("snapshots", snap_id, SNAPSHOT_AAD))
        doc["id"] = snap_id
        return doc

    def list_snapshots(self) -> list[dict]:
        snaps = [self.load_snapshot(s) for s in self.snapshot_ids()]
        return sorted(snaps, key=lambda d: (d.get("time_ns", 0), d["id"]))

    def resolve_snapshot(self, prefix: str) -> str:
        if prefix == "latest":
            snaps = self.list_snapshots()
            if not snaps:
                raise SnapshotNotFound("the repository has no snapshots")
            return snaps[-1]["id"]
        matches = [s for s in self.snapshot_ids() if s.startswith(prefix)]
        if len(matches) != 1 or not prefix:
            raise SnapshotNotFound(
                f"no snapshot {prefix!r}" if not matches else f"snapshot prefix {prefix!r} is ambiguous"
            )
        return matches[0]

    # -- locks -----------------------------------------------------------------------
    def lock(self, *, exclusive: bool, purpose: str = "", lease: float | None = None) -> RepoLock:
        lease = lease or self.lock_lease
        kw = {"lease": lease} if lease else {}
        return RepoLock(self.store, exclusive=exclusive, purpose=purpose, **kw).acquire()
