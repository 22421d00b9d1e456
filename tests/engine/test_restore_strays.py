"""Strays (restore_strays.py): small files whose blob lies in a group the restore is not reading
(copies deduplicated against files elsewhere) are set aside and written in group order, so a
group is decoded once for them, not once for each; the tree comes out the same, directory
metadata included, and a failed restore lets every set-aside directory go."""
from __future__ import annotations

import collections
import importlib
import os
import random
import shutil

import pytest

from sharebackup import engine
from sharebackup.engine import blob_groups, browse, restore_strays

from .helpers import FAST_KDF, assert_same_tree, flip_bit


def _tree(root, dirs: int = 12, per_dir: int = 150, copies: int = 18) -> None:
    """Directories of small text files (several groups of 512), then copies of files of the
    later directories put in the earlier ones: in walk order each copy comes long before its
    blob's group is read."""
    rnd = random.Random(7)
    words = [bytes(rnd.choices(b"abcdefghij", k=rnd.randint(3, 9))) for _ in range(300)]
    for d in range(dirs):
        os.makedirs(root / f"d{d:02d}")
        for f in range(per_dir):
            text = b" ".join(rnd.choices(words, k=rnd.randint(20, 400)))
            (root / f"d{d:02d}" / f"f{f:03d}.txt").write_bytes(text)
    for c in range(copies):
        source = root / f"d{rnd.randrange(dirs // 2, dirs):02d}" / f"f{rnd.randrange(per_dir):03d}.txt"
        shutil.copyfile(source, root / f"d{rnd.randrange(dirs // 2):02d}" / f"copy{c:02d}.txt")
    for d in range(dirs):  # directories' own metadata, which strays must not disturb
        os.utime(root / f"d{d:02d}", ns=(1_600_000_000_000_000_000 + d, 1_600_000_000_000_000_000 + d))


@pytest.fixture
def grouped(tmp_path):
    store = engine.open_store(str(tmp_path / "repo"))
    engine.Repository.init(store, key=b"k", scrypt_n=FAST_KDF)
    repo = engine.Repository.open(store, key=b"k")
    _tree(tmp_path / "src")
    snap = engine.backup(repo, str(tmp_path / "src"))
    fresh = engine.Repository.open(store, key=b"k")
    sizes = collections.Counter()
    for _, loc in fresh.index.blobs.items():
        if loc.inner != blob_groups.ALONE:
            sizes[(loc.pack_id, loc.offset)] += loc.plain_len
    fresh.groups.max_bytes = max(sizes.values())  # one group stays decoded: a far one evicts it
    return fresh, snap


def _counting_decodes(monkeypatch) -> list:
    decodes: list = []
    real = blob_groups.decode_group
    monkeypatch.setattr(blob_groups, "decode_group", lambda codec, stored: decodes.append(1) or real(codec, stored))
    return decodes


def test_strays_restore_the_same_tree_with_fewer_group_decodes(grouped, tmp_path, monkeypatch):
    repo, snap = grouped
    groups = {(loc.pack_id, loc.offset) for _, loc in repo.index.blobs.items() if loc.inner != blob_groups.ALONE}
    assert len(groups) >= 3
    decodes = _counting_decodes(monkeypatch)
    summary = engine.restore(repo, snap, str(tmp_path / "with"), workers=2)
    assert summary["errors"] == []
    assert_same_tree(str(tmp_path / "src"), str(tmp_path / "with"))
    with_strays = len(decodes)

    decodes.clear()
    monkeypatch.setattr(restore_strays.Strays, "set_aside", lambda self, handle, batch: batch)
    engine.restore(repo, snap, str(tmp_path / "without"), workers=2)
    assert_same_tree(str(tmp_path / "src"), str(tmp_path / "without"))
    assert with_strays < len(decodes)  # each copy cost its group's decode (and the next batch's) without strays


def test_strays_written_early_when_many_wait_keep_the_tree_and_directory_metadata(grouped, tmp_path, monkeypatch):
    repo, snap = grouped
    monkeypatch.setattr(importlib.import_module("sharebackup.engine.restore"), "MAX_STRAYS", 3)
    engine.restore(repo, snap, str(tmp_path / "out"), workers=2)
    assert_same_tree(str(tmp_path / "src"), str(tmp_path / "out"))  # mtimes of the directories too


def test_a_failed_restore_lets_every_set_aside_directory_go(grouped, tmp_path):
    repo, snap = grouped
    # damage the group of the tree's last directory: the restore stops there
    node = browse.node_at(repo, repo.load_snapshot(snap), "/d11/f000.txt")
    loc = repo.index.get(bytes.fromhex(node["content"][0]))
    assert loc.inner != blob_groups.ALONE
    flip_bit(os.path.join(str(tmp_path / "repo"), "data", loc.pack_id[:2], loc.pack_id), (loc.offset + 40) * 8)
    fds_before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(engine.IntegrityError):
        engine.restore(repo, snap, str(tmp_path / "out"), workers=2)
    assert len(os.listdir("/proc/self/fd")) == fds_before  # no directory left open
