"""Partial restore (--include/--exclude) and browsing a snapshot (ls, stat, read a range).

A partial restore puts back exactly the named paths: content, mode, mtime, symlinks and hard
links inside them come back, and nothing else in the target changes at all (the whole
target's fingerprint, directory times included, is the same outside the named paths).
"""
from __future__ import annotations

import os
import random
import shutil

import pytest

from sharebackup import engine
from sharebackup.engine import browse
from sharebackup.engine.errors import UnsafePathError

from .helpers import make_rich_tree, snapshot_of_tree


def _outside(fingerprint: dict, included: tuple[str, ...]) -> dict:
    return {path: desc for path, desc in fingerprint.items()
            if not any(path == inc or path.startswith(inc + "/") for inc in included)}


def _inside(fingerprint: dict, included: tuple[str, ...]) -> dict:
    return {path: desc for path, desc in fingerprint.items() if path not in _outside(fingerprint, included)}


def _unlinked(fingerprint: dict) -> dict:
    return {path: {k: v for k, v in desc.items() if k != "linked_to"} for path, desc in fingerprint.items()}


def test_a_hard_link_group_chosen_whole_comes_back_linked(damaged):
    repo, snap, src, target = damaged
    included = ("docs", "hard")
    for name in ("docs/a.txt", "hard"):
        (target / name).unlink()
    engine.restore(repo, snap, str(target), include=["/docs", "/hard"])
    after, original = snapshot_of_tree(str(target)), snapshot_of_tree(str(src))
    assert {p: after[p].get("linked_to") for p in ("docs/a.txt", "docs/deep/hard2", "hard")} == \
        {p: original[p].get("linked_to") for p in ("docs/a.txt", "docs/deep/hard2", "hard")}
    assert _unlinked(_inside(after, included)) == _unlinked(_inside(original, included)) | {
        "docs/extra.txt": _unlinked(after)["docs/extra.txt"]}  # merge keeps the extra file


@pytest.fixture
def damaged(repo, tmp_path):
    """A snapshot of a rich tree, and a target that was that tree and then lost and changed things."""
    src, target = tmp_path / "src", tmp_path / "target"
    make_rich_tree(src)
    snap = engine.backup(repo, str(src))
    engine.restore(repo, snap, str(target))  # the tree as it was, hard links and fifo included
    shutil.rmtree(target / "docs" / "deep")                    # a lost folder
    (target / "random.bin").write_bytes(b"overwritten")         # a damaged file, outside the selection
    (target / "docs" / "extra.txt").write_text("made since")    # an extra file inside a chosen folder
    (target / "new-elsewhere").write_text("made since, elsewhere")
    os.utime(target / "docs", ns=(7, 1_600_000_000_000_000_007))
    os.utime(target, ns=(9, 1_600_000_000_000_000_009))
    return repo, snap, src, target


@pytest.mark.parametrize("mode", ["merge", "replace"])
def test_only_the_named_paths_come_back(damaged, mode):
    repo, snap, src, target = damaged
    included = ("docs/deep", "link")
    before = snapshot_of_tree(str(target))
    summary = engine.restore(repo, snap, str(target), mode=mode, include=["/docs/deep", "/link"])
    after, original = snapshot_of_tree(str(target)), snapshot_of_tree(str(src))
    assert summary["errors"] == []
    # back exactly; hard2's other names (docs/a.txt, hard) were not chosen, so it comes back as a file of its own
    assert _unlinked(_inside(after, included)) == _unlinked(_inside(original, included))
    assert _outside(after, included) == _outside(before, included)  # nothing else changed, times included
    assert (target / "random.bin").read_bytes() == b"overwritten"
    assert (target / "docs" / "extra.txt").exists()  # not inside a named path: replace leaves it too


def test_replace_removes_extras_only_inside_the_named_paths(damaged):
    repo, snap, src, target = damaged
    engine.restore(repo, snap, str(target), mode="replace", include=["/docs"])
    assert not (target / "docs" / "extra.txt").exists()
    assert (target / "new-elsewhere").exists()
    after, original = snapshot_of_tree(str(target)), snapshot_of_tree(str(src))
    assert _unlinked(_inside(after, ("docs",))) == _unlinked(_inside(original, ("docs",)))
    assert after["docs/deep/hard2"]["linked_to"] == "docs/a.txt"  # linked again, within the chosen path


def test_a_hard_link_whose_other_name_is_not_chosen_is_written_as_a_file(damaged):
    repo, snap, src, target = damaged
    fresh = target.parent / "fresh"
    engine.restore(repo, snap, str(fresh), include=["/docs/deep/hard2"])
    assert (fresh / "docs" / "deep" / "hard2").read_bytes() == (src / "docs" / "a.txt").read_bytes()
    assert sorted(p.name for p in fresh.iterdir()) == ["docs"]


def test_exclude_patterns_leave_entries_out(repo, tmp_path):
    src = tmp_path / "src"
    make_rich_tree(src)
    snap = engine.backup(repo, str(src))
    out = tmp_path / "out"
    summary = engine.restore(repo, snap, str(out), exclude=["*.txt", "/random.bin"])
    restored = {str(p.relative_to(out)) for p in out.rglob("*")}
    assert "docs/a.txt" not in restored and "random.bin" not in restored and "docs/deep/er/dup.txt" not in restored
    assert "sparse.img" in restored and summary["errors"] == []


@pytest.mark.parametrize("path, error", [("/not/there", browse.PathNotFound), ("/../etc", UnsafePathError),
                                         ("/docs/./a.txt", UnsafePathError), ("/link/x", browse.NotADirectory),
                                         ("/a\x00b", UnsafePathError)])
def test_bad_include_paths_write_nothing(repo, tmp_path, path, error):
    src = tmp_path / "src"
    make_rich_tree(src)
    snap = engine.backup(repo, str(src))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(error):
        engine.restore(repo, snap, str(out), include=[path])
    assert list(out.iterdir()) == []


def test_browse_walks_names_never_symlinks(repo, tmp_path):
    src = tmp_path / "src"
    make_rich_tree(src)
    snap = repo.load_snapshot(engine.backup(repo, str(src)))
    assert browse.node_at(repo, snap, "/")["type"] == "dir"
    assert browse.node_at(repo, snap, "//docs//a.txt")["size"] == len(b"line of text\n") * 5000
    assert browse.node_at(repo, snap, "/link")["target"] == "docs/a.txt"
    with pytest.raises(browse.NotADirectory):
        browse.node_at(repo, snap, "/link/anything")  # a symlink in the backup is not followed
    names = [n["name"] for n in browse.children(repo, browse.node_at(repo, snap, "/"))]
    assert names == sorted(names)
    paged = browse.page(repo, browse.node_at(repo, snap, "/"), marker=names[2], limit=3)
    assert [n["name"] for n in paged] == names[3:6]


def test_read_range_gives_the_exact_bytes(repo, tmp_path):
    src = tmp_path / "src"
    make_rich_tree(src)
    snap = repo.load_snapshot(engine.backup(repo, str(src)))
    rng = random.Random(7)
    for name in ("random.bin", "sparse.img", "docs/a.txt", "empty"):
        data = (src / name).read_bytes()
        node = browse.node_at(repo, snap, name)
        assert b"".join(browse.read_range(repo, node)) == data
        for _ in range(20):
            start = rng.randrange(0, len(data) + 1)
            end = rng.randrange(start, len(data) + 2)
            assert b"".join(browse.read_range(repo, node, start, end)) == data[start:end], (name, start, end)
    with pytest.raises(browse.IsADirectory):
        list(browse.read_range(repo, browse.node_at(repo, snap, "/docs")))
