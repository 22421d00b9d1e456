"""A repository of format version 1 (JSON index deltas), made by the engine before format 2 and
committed as a fixture (tests/fixtures/repository-v1, passphrase "fixture passphrase v1"),
still opens, checks and restores byte for byte; a backup into it keeps writing version-1 deltas,
so an older engine can go on reading it. New repositories are format 3 (binary index deltas, small
blobs in groups: tests/engine/test_blob_groups.py)."""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from sharebackup import engine
from sharebackup.engine.index_delta import INDEX_AAD, MAGIC, MAGIC_V2

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "repository-v1"
KEY = b"fixture passphrase v1"
SNAPSHOT = "5fc1e3adb4183e3cc272fd76042598999ae5411943d745bc54ea2f8489836340"


def _copy(tmp_path) -> engine.Repository:
    shutil.copytree(FIXTURE, tmp_path / "repo")
    return engine.Repository.open(engine.open_store(str(tmp_path / "repo")), key=KEY)


def test_a_version_1_repository_restores_byte_for_byte(tmp_path):
    repo = _copy(tmp_path)
    assert repo.config["version"] == 1 and repo.index_format == 1
    assert engine.check(repo, read_data=True).ok
    engine.restore(repo, SNAPSHOT, str(tmp_path / "out"))
    out = tmp_path / "out"
    assert (out / "docs" / "a.txt").read_bytes() == b"alpha\n"
    assert (out / "docs" / "b.txt").read_bytes() == b"bravo bravo\n"
    assert hashlib.sha256((out / "big.bin").read_bytes()).hexdigest() == \
        hashlib.sha256(bytes(range(256)) * 3000).hexdigest()
    assert os.readlink(out / "link") == "docs/a.txt"
    assert os.stat(out / "docs" / "a.txt").st_mtime_ns == 1_600_000_000_000_000_000


def test_a_backup_into_a_version_1_repository_writes_version_1_deltas(tmp_path):
    repo = _copy(tmp_path)
    before = set(repo.index_ids())
    source = tmp_path / "src"
    source.mkdir()
    (source / "new.txt").write_text("new data\n")
    engine.backup(repo, str(source))
    added = set(repo.index_ids()) - before
    assert added and all(not repo.read_file("index", i, INDEX_AAD).startswith((MAGIC, MAGIC_V2)) for i in added)


def test_a_new_repository_is_format_3_with_binary_deltas(tmp_path):
    store = engine.open_store(str(tmp_path / "new"))
    engine.Repository.init(store, key=KEY)
    repo = engine.Repository.open(store, key=KEY)
    source = tmp_path / "src"
    source.mkdir()
    (source / "f.txt").write_text("x" * 1000)
    snap = engine.backup(repo, str(source))
    assert repo.config["version"] == 3
    assert all(repo.read_file("index", i, INDEX_AAD).startswith(MAGIC) for i in repo.index_ids())
    reopened = engine.Repository.open(store, key=KEY)
    engine.restore(reopened, snap, str(tmp_path / "out"))
    assert (tmp_path / "out" / "f.txt").read_text() == "x" * 1000
