"""A repository of format version 2 (binary index deltas, every blob stored alone), made by the
engine before format 3 and committed as a fixture (tests/fixtures/repository-v2, passphrase
"fixture passphrase v2"), still opens, checks and restores byte for byte; a backup into it keeps it
at version 2 (version-2 deltas, "SBKPACK1" packs, no blob groups), so an engine that knows no
groups can go on reading it. `Repository.init(format_version=2)` still makes such a repository."""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from sharebackup import engine
from sharebackup.engine.index_delta import INDEX_AAD, MAGIC, MAGIC_V2
from sharebackup.engine.pack import ALONE, MAGIC as PACK_MAGIC, MAGIC_GROUPED, pack_name

from .helpers import FAST_KDF, assert_same_tree

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "repository-v2"
KEY = b"fixture passphrase v2"
SNAPSHOT = "64a83b223907fcf3a1b13999d42f35def78584c6c384b8a5b87ee513a51190b5"
MTIME = 1_600_000_000_000_000_000
SMALL = {f"small{i}.txt": f"small file {i}\n".encode() * (i + 1) for i in range(5)}


def _copy(tmp_path) -> tuple[engine.Repository, Path]:
    shutil.copytree(FIXTURE, tmp_path / "repo")
    store = engine.open_store(str(tmp_path / "repo"))
    return engine.Repository.open(store, key=KEY), tmp_path / "repo"


def _assert_fixture_tree(out: Path) -> None:
    assert (out / "docs" / "a.txt").read_bytes() == b"alpha\n"
    assert (out / "docs" / "b.txt").read_bytes() == b"bravo bravo\n"
    for name, data in SMALL.items():
        assert (out / "docs" / name).read_bytes() == data, name
    assert hashlib.sha256((out / "big.bin").read_bytes()).hexdigest() == \
        hashlib.sha256(bytes(range(256)) * 3000).hexdigest()
    assert os.path.islink(out / "link") and os.readlink(out / "link") == "docs/a.txt"
    for rel in ("docs/a.txt", "docs/b.txt", "big.bin", "docs", *(f"docs/{n}" for n in SMALL)):
        assert os.stat(out / rel).st_mtime_ns == MTIME, rel


def _assert_version_2_layout(repo: engine.Repository, deltas, packs) -> None:
    """These deltas are version-2 binary ones, these packs end in SBKPACK1, and no blob of the
    index lies in a group."""
    assert deltas and packs
    for delta_id in deltas:
        payload = repo.read_file("index", delta_id, INDEX_AAD)
        assert payload.startswith(MAGIC_V2) and not payload.startswith(MAGIC)
    for pack_id in packs:
        tail = repo.store.get(pack_name(pack_id))[-8:]
        assert tail == PACK_MAGIC and tail != MAGIC_GROUPED
    locations = list(repo.index.blobs.values())
    assert locations and all(loc.inner == ALONE for loc in locations)
    # no two blobs share one stored unit
    units = [(loc.pack_id, loc.offset) for loc in locations]
    assert len(units) == len(set(units))


def _small_tree(root: Path, count: int = 120) -> None:
    for i in range(count):
        sub = root / f"d{i % 4}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i:03d}.txt").write_bytes(f"note {i}: ".encode() * (i % 17 + 1) + os.urandom(i % 9))


def test_the_version_2_fixture_checks_and_restores_byte_for_byte(tmp_path):
    repo, _root = _copy(tmp_path)
    assert repo.config["version"] == 2 and repo.index_format == 2 and not repo.grouped
    result = engine.check(repo, read_data=True)
    assert result.ok, result.errors
    assert result.stats["packs_read"] == 2 and result.stats["blobs"] == 10
    engine.restore(repo, SNAPSHOT, str(tmp_path / "out"))
    _assert_fixture_tree(tmp_path / "out")
    _assert_version_2_layout(repo, repo.index_ids(), repo.index.packs)


def test_a_backup_into_the_version_2_fixture_stays_version_2(tmp_path):
    repo, root = _copy(tmp_path)
    deltas_before, packs_before = set(repo.index_ids()), set(repo.index.packs)
    source = tmp_path / "src"
    _small_tree(source)
    (source / "chunked.bin").write_bytes(os.urandom(700_000))
    snap = engine.backup(repo, str(source))
    new_deltas = set(repo.index_ids()) - deltas_before
    new_packs = set(repo.index.packs) - packs_before
    assert repo.config["version"] == 2
    _assert_version_2_layout(repo, new_deltas, new_packs)
    reopened = engine.Repository.open(engine.open_store(str(root)), key=KEY)
    assert reopened.config["version"] == 2 and not reopened.grouped
    _assert_version_2_layout(reopened, reopened.index_ids(), reopened.index.packs)
    assert engine.check(reopened, read_data=True).ok
    engine.restore(reopened, snap, str(tmp_path / "out"))
    assert_same_tree(str(source), str(tmp_path / "out"))
    engine.restore(reopened, SNAPSHOT, str(tmp_path / "old"))  # the fixture's own snapshot too
    _assert_fixture_tree(tmp_path / "old")


def test_init_with_format_version_2_makes_a_repository_without_groups(tmp_path):
    store = engine.open_store(str(tmp_path / "repo"))
    engine.Repository.init(store, key=b"k", scrypt_n=FAST_KDF, format_version=2)
    repo = engine.Repository.open(store, key=b"k")
    assert repo.config["version"] == 2 and repo.index_format == 2 and not repo.grouped
    source = tmp_path / "src"
    _small_tree(source, 300)
    snap = engine.backup(repo, str(source))
    data_blobs = [loc for loc in repo.index.blobs.values() if loc.type == 0]
    assert len(data_blobs) >= 290  # a blob of its own for every distinct small file
    _assert_version_2_layout(repo, repo.index_ids(), repo.index.packs)
    assert engine.check(repo, read_data=True).ok
    engine.restore(engine.Repository.open(store, key=b"k"), snap, str(tmp_path / "out"))
    assert_same_tree(str(source), str(tmp_path / "out"))
