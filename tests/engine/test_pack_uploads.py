"""Packs are uploaded by the blob writer's uploader threads: the workers go on meanwhile, at most
UPLOADS_IN_FLIGHT packs are held for upload at once, flush() waits for all of them, and a
failed upload stops the backup with no snapshot."""
from __future__ import annotations

import os
import threading

import pytest

from sharebackup import engine
from sharebackup.engine.errors import EngineError
from sharebackup.engine.pack import BLOB_DATA
from sharebackup.engine.packer import UPLOADS_IN_FLIGHT, BlobWriter

from .helpers import FAST_KDF


def _repo(pack_size: int = 1 << 16) -> engine.Repository:
    store = engine.MemoryStore()
    engine.Repository.init(store, key=b"k", scrypt_n=FAST_KDF, pack_size=pack_size)
    return engine.Repository.open(store, key=b"k")


def test_uploads_are_bounded_and_flush_waits_for_them():
    repo = _repo()
    gate, lock = threading.Event(), threading.Lock()
    running, most = [0], [0]

    def before_put(name):
        if name.startswith("data/"):
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            gate.wait(10)
            with lock:
                running[0] -= 1

    repo.store.before_put = before_put
    writer = BlobWriter(repo)
    blobs = [os.urandom(40_000) for _ in range(12)]  # a 64 KiB pack is full every two blobs
    adder = threading.Thread(target=lambda: [writer.store_blob(BLOB_DATA, b) for b in blobs])
    adder.start()
    adder.join(1.0)
    assert adder.is_alive()  # held back: UPLOADS_IN_FLIGHT packs wait for the store
    assert most[0] <= UPLOADS_IN_FLIGHT
    gate.set()
    adder.join(10)
    writer.flush()
    writer.close()
    assert most[0] == UPLOADS_IN_FLIGHT
    assert len(list(repo.store.list("data/"))) == 6 and writer.packs_written == 6
    reopened = engine.Repository.open(repo.store, key=b"k")
    assert [reopened.load_blob(repo.codec.blob_id(b)) for b in blobs] == blobs


def test_a_failed_upload_fails_the_backup_and_saves_no_snapshot(tmp_path):
    repo = _repo()
    src = tmp_path / "src"
    src.mkdir()
    for i in range(8):
        (src / f"f{i}").write_bytes(os.urandom(300_000))

    def before_put(name):
        if name.startswith("data/"):
            raise EngineError("the store refused the pack")

    repo.store.before_put = before_put
    with pytest.raises(EngineError, match="refused"):
        engine.backup(repo, str(src))
    assert not list(repo.store.list("snapshots/"))
