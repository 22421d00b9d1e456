"""What an incremental backup takes from its parent instead of asking the file system again."""

import os

from sharebackup import engine
from sharebackup.engine import file_reader
from sharebackup.engine.tree import decode_tree


def nodes(repo, snap):
    tree = repo.load_snapshot(snap)["tree"]
    return {n["name"]: n for n in decode_tree(repo.load_tree(bytes.fromhex(tree)))}


def test_unchanged_files_keep_their_xattrs_and_a_changed_xattr_is_seen(repo, tmp_path):
    src = tmp_path / "src"
    os.makedirs(src)
    for name in ("kept", "retagged", "untagged"):
        (src / name).write_bytes(name.encode() * 100)
    os.setxattr(src / "kept", "user.colour", b"blue")
    os.setxattr(src / "retagged", "user.colour", b"red")
    first = engine.backup(repo, str(src))
    os.setxattr(src / "retagged", "user.colour", b"green")  # content and mtime unchanged, ctime moves
    os.setxattr(src / "untagged", "user.new", b"1")
    second = engine.backup(repo, str(src), parent=first)
    summary = repo.load_snapshot(second)["summary"]
    assert summary["files_unmodified"] == 1  # only "kept": the others' ctime changed
    after = nodes(repo, second)
    assert after["kept"]["xattrs"] == nodes(repo, first)["kept"]["xattrs"]
    out = tmp_path / "out"
    engine.restore(repo, second, str(out))
    assert os.getxattr(out / "kept", "user.colour") == b"blue"
    assert os.getxattr(out / "retagged", "user.colour") == b"green"
    assert os.getxattr(out / "untagged", "user.new") == b"1"


def make_dirs(src) -> None:
    for rel in ("a/one", "a/two", "b/three", "b/c/four", "b/c/five"):
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rel.encode() * 50)


def count_encodings(monkeypatch) -> list:
    """The names in each tree the walk encodes (a tree taken from the parent is not encoded)."""
    from sharebackup.engine import backup_walk

    encoded = []

    def counting(nodes):
        encoded.append(sorted(n["name"] for n in nodes))
        return backup_walk_encode(nodes)

    backup_walk_encode = backup_walk.encode_tree
    monkeypatch.setattr(backup_walk, "encode_tree", counting)
    return encoded


def subtree(repo, snap, *names) -> str:
    tree = repo.load_snapshot(snap)["tree"]
    for name in names:
        tree = {n["name"]: n for n in decode_tree(repo.load_tree(bytes.fromhex(tree)))}[name]["subtree"]
    return tree


def test_an_unchanged_directory_keeps_its_parent_tree_without_encoding_it(repo, tmp_path, monkeypatch):
    src = tmp_path / "src"
    make_dirs(src)
    first = engine.backup(repo, str(src))
    (src / "b/c/four").write_bytes(b"changed")
    encoded = count_encodings(monkeypatch)
    second = engine.backup(repo, str(src), parent=first)
    # only the changed file's directory and the ones above it
    assert encoded == [["five", "four"], ["c", "three"], ["a", "b"]]
    assert subtree(repo, second, "a") == subtree(repo, first, "a")
    assert subtree(repo, second, "b", "c") != subtree(repo, first, "b", "c")
    encoded.clear()
    third = engine.backup(repo, str(src), parent=second)
    assert encoded == []
    assert repo.load_snapshot(third)["tree"] == repo.load_snapshot(second)["tree"]
    assert repo.load_snapshot(third)["summary"]["blobs_added"] == 0
    out = tmp_path / "out"
    engine.restore(repo, third, str(out))
    assert (out / "b/c/four").read_bytes() == b"changed"
    assert (out / "a/two").read_bytes() == b"a/two" * 50


def test_a_directory_whose_nodes_differ_in_any_field_gets_a_tree_of_its_own(repo, tmp_path, monkeypatch):
    # as when the parent was written by a version that recorded a field differently: the names
    # and contents match, the nodes do not, so the parent's tree is not what this walk saw
    from sharebackup.engine import backup_walk

    src = tmp_path / "src"
    make_dirs(src)
    first = engine.backup(repo, str(src))
    plain = backup_walk.node_from_stat
    monkeypatch.setattr(backup_walk, "node_from_stat", lambda name, st: {**plain(name, st), "extra": 1})
    encoded = count_encodings(monkeypatch)
    second = engine.backup(repo, str(src), parent=first)
    assert len(encoded) == 4  # root, a, b, b/c
    assert nodes(repo, second)["a"]["extra"] == 1
    assert subtree(repo, second, "a") != subtree(repo, first, "a")
    assert repo.load_snapshot(second)["summary"]["files_unmodified"] == 5


def test_the_index_is_asked_once_a_directory_and_a_missing_blob_has_its_file_read_again(repo, tmp_path,
                                                                                         monkeypatch):
    from sharebackup.engine.index import Index

    src = tmp_path / "src"
    src.mkdir()
    for i in range(10):
        (src / f"f{i}").write_bytes(b"file %d " % i * 100)
    first = engine.backup(repo, str(src))
    lost = bytes.fromhex(nodes(repo, first)["f3"]["content"][0])
    asked, one_by_one = [], []
    real_many, real_in = Index.contains_many, Index.__contains__

    def many(self, ids):
        asked.append(len(ids))
        return [False if blob_id == lost else found for blob_id, found in zip(ids, real_many(self, ids))]

    def single(self, blob_id):
        one_by_one.append(blob_id)
        return real_in(self, blob_id)

    monkeypatch.setattr(Index, "contains_many", many)
    monkeypatch.setattr(Index, "__contains__", single)
    read = []
    real_read = file_reader.read_content
    monkeypatch.setattr(file_reader, "read_content", lambda fd, st, *a: read.append(st.st_ino) or real_read(fd, st, *a))
    second = engine.backup(repo, str(src), parent=first)
    assert asked == [10]
    kept = {bytes.fromhex(n["content"][0]) for name, n in nodes(repo, first).items() if name != "f3"}
    assert not kept & set(one_by_one)  # (the writer asks for f3's blob again when it stores it)
    assert read == [os.stat(src / "f3").st_ino]
    summary = repo.load_snapshot(second)["summary"]
    assert (summary["files_unmodified"], summary["files_changed"]) == (9, 1)


def test_a_directory_with_a_file_read_anew_lets_its_parent_nodes_go_before_its_batch_is_done(repo, tmp_path,
                                                                                              monkeypatch):
    from sharebackup.engine import backup_walk

    src = tmp_path / "src"
    make_dirs(src)
    first = engine.backup(repo, str(src))
    (src / "b/c/four").write_bytes(b"changed")
    held = {}
    real = backup_walk.same_tree

    def recording(nodes, parent):
        held[tuple(sorted(n["name"] for n in nodes))] = parent is not None
        return real(nodes, parent)

    monkeypatch.setattr(backup_walk, "same_tree", recording)
    engine.backup(repo, str(src), parent=first)
    # b/c read a file anew: its parent nodes were dropped at the end of its walk (memory); the
    # others kept theirs until their tree was finished, and "a" was taken from the parent
    assert held == {("five", "four"): False, ("one", "two"): True, ("c", "three"): True, ("a", "b"): True}
