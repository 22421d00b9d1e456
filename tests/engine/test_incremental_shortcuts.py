"""What an incremental backup takes from its parent instead of asking the file system again."""

import os

from sharebackup import engine
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
