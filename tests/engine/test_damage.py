"""A flipped bit anywhere (data pack, tree pack, index, snapshot) is detected and never restored."""

import os
import random

import pytest

from sharebackup import engine
from sharebackup.engine.pack import BLOB_DATA, BLOB_TREE, pack_name

from .helpers import flip_bit, make_rich_tree


@pytest.fixture
def backed_up(repo, tmp_path):
    src = tmp_path / "src"
    make_rich_tree(src)
    snap = engine.backup(repo, str(src))
    assert engine.check(repo, read_data=True).ok
    return repo, snap, tmp_path / "repo"


def reopen(repo):
    key = b"test passphrase" if repo.codec.encrypted else None
    return engine.Repository.open(repo.store, key=key, load_index=False)


def pack_of_type(repo, blob_type):
    return next(loc.pack_id for loc in repo.index.blobs.values() if loc.type == blob_type)


def flip_random_bit(path, seed, start=0, end=None):
    size = os.path.getsize(path)
    end = size if end is None else end
    flip_bit(path, random.Random(seed).randrange(start * 8, end * 8))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_flipped_bit_in_a_data_pack(backed_up, tmp_path, seed):
    repo, snap, root = backed_up
    pack_id = pack_of_type(repo, BLOB_DATA)
    blobs = [loc for loc in repo.index.blobs.values() if loc.pack_id == pack_id]
    first = min(blobs, key=lambda loc: loc.offset)
    flip_random_bit(root / pack_name(pack_id), seed, first.offset, first.offset + first.length)
    result = engine.check(reopen(repo), read_data=True)
    assert not result.ok
    assert any(pack_id in e for e in result.errors)
    target = tmp_path / f"out{seed}"
    with pytest.raises(engine.IntegrityError):
        engine.restore(repo, snap, str(target))
    for dirpath, _dirs, files in os.walk(target):
        for f in files:  # nothing half-written is left behind
            assert not f.startswith(".sbk-restore-")


def test_flipped_bit_in_a_pack_trailer_is_found_by_read_data(backed_up):
    repo, _snap, root = backed_up
    pack_id = pack_of_type(repo, BLOB_DATA)
    size = os.path.getsize(root / pack_name(pack_id))
    flip_random_bit(root / pack_name(pack_id), 7, size - 30, size - 12)
    result = engine.check(reopen(repo), read_data=True)
    assert any("does not match its name" in e for e in result.errors)


def test_flipped_bit_in_a_tree_pack(backed_up, tmp_path):
    repo, snap, root = backed_up
    pack_id = pack_of_type(repo, BLOB_TREE)
    blobs = [loc for loc in repo.index.blobs.values() if loc.pack_id == pack_id]
    flip_random_bit(root / pack_name(pack_id), 5, 0, max(loc.offset + loc.length for loc in blobs))
    result = engine.check(reopen(repo))  # the structural tier already reads every tree
    assert not result.ok and any(e.startswith("tree ") for e in result.errors)
    with pytest.raises(engine.EngineError):
        engine.restore(reopen_with_index(repo), snap, str(tmp_path / "out"))


def reopen_with_index(repo):
    r = reopen(repo)
    r.load_index()
    return r


def test_flipped_bit_in_an_index_file(backed_up):
    repo, _snap, root = backed_up
    delta = next((root / "index").iterdir())
    flip_random_bit(delta, 11)
    result = engine.check(reopen(repo))
    assert any(e.startswith(f"index {delta.name}") for e in result.errors)
    with pytest.raises(engine.IntegrityError):
        reopen_with_index(repo)


def test_flipped_bit_in_a_snapshot(backed_up):
    repo, snap, root = backed_up
    flip_random_bit(root / "snapshots" / snap, 13)
    result = engine.check(reopen(repo))
    assert any(e.startswith(f"snapshot {snap}") for e in result.errors)
    with pytest.raises(engine.IntegrityError):
        repo.load_snapshot(snap)


def test_missing_and_truncated_packs_fail_the_structural_check(backed_up):
    repo, _snap, root = backed_up
    data_pack = pack_of_type(repo, BLOB_DATA)
    tree_pack = pack_of_type(repo, BLOB_TREE)
    os.unlink(root / pack_name(data_pack))
    with open(root / pack_name(tree_pack), "r+b") as f:
        f.truncate(os.path.getsize(root / pack_name(tree_pack)) - 1)
    errors = engine.check(reopen(repo)).errors
    assert any(data_pack in e and "missing" in e for e in errors)
    assert any(tree_pack in e and "size" in e for e in errors)


def test_read_data_subset_reads_only_part(backed_up):
    repo, _snap, _root = backed_up
    total = len(repo.index.packs)
    result = engine.check(reopen(repo), read_data=0.01, seed=1)
    assert result.ok and result.stats["packs_read"] == 1 < total
