"""Restore's fast paths: small files in batches (one pack read for many blobs) and files
written under their own names in directories the restore made itself."""

import os

import pytest

from sharebackup import engine
from sharebackup.engine import restore_files
from sharebackup.engine.pack import pack_name

from .helpers import CountingStore, flip_bit, snapshot_of_tree


def small_files(root, count=300):
    os.makedirs(root / "many")
    for i in range(count):
        (root / "many" / f"f{i:04d}").write_bytes(f"file {i} ".encode() * (i % 50 + 1))
    (root / "many" / "empty").write_bytes(b"")


def test_load_blobs_reads_neighbours_together_and_keeps_the_order_asked(repo, tmp_path):
    small_files(tmp_path / "src")
    snap = engine.backup(repo, str(tmp_path / "src"))
    del snap
    ids = [blob_id for blob_id, loc in repo.index.blobs.items() if loc.type == 0]
    assert len(ids) >= 300
    ids.reverse()  # not the order they lie in the packs
    one_by_one = [repo.load_blob(i) for i in ids]
    counting = CountingStore(repo.store)
    repo.store = counting
    try:
        together = repo.load_blobs(ids)
    finally:
        repo.store = counting.store
    assert together == one_by_one
    packs = {repo.index.get(i).pack_id for i in ids}
    assert counting.gets <= len(packs) * 2 < len(ids)  # a read per pack (or span), not per blob


def test_load_blobs_refuses_an_unknown_blob(repo):
    with pytest.raises(engine.IntegrityError):
        repo.load_blobs([os.urandom(32)])


def test_a_directory_of_small_files_restores_whole_in_batches(repo, tmp_path):
    small_files(tmp_path / "src")
    snap = engine.backup(repo, str(tmp_path / "src"))
    summary = engine.restore(repo, snap, str(tmp_path / "out"))
    assert summary["files"] == 301 and summary["errors"] == []
    assert snapshot_of_tree(str(tmp_path / "out")) == snapshot_of_tree(str(tmp_path / "src"))


def test_a_damaged_multi_blob_file_in_a_new_directory_leaves_no_partial_file(repo, tmp_path):
    src = tmp_path / "src"
    os.makedirs(src / "new")
    data = os.urandom(6 * 1024 * 1024)  # random: several chunks, stored uncompressed
    (src / "new" / "big").write_bytes(data)
    snap = engine.backup(repo, str(src))
    tree = engine.tree.decode_tree(repo.load_tree(bytes.fromhex(repo.load_snapshot(snap)["tree"])))
    sub = engine.tree.decode_tree(repo.load_tree(bytes.fromhex(tree[0]["subtree"])))
    content = sub[0]["content"]
    assert len(content) >= 3
    loc = repo.index.get(bytes.fromhex(content[-1]))  # the last blob: earlier ones are written first
    flip_bit(tmp_path / "repo" / pack_name(loc.pack_id), (loc.offset + loc.length // 2) * 8)
    with pytest.raises(engine.IntegrityError):
        engine.restore(repo, snap, str(tmp_path / "out"))
    left = [f for _d, _s, files in os.walk(tmp_path / "out") for f in files]
    assert left == []  # neither the partly written file under its name nor a temporary


def test_an_entry_planted_in_a_new_directory_is_replaced_only_when_the_file_is_whole(tmp_path):
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        (tmp_path / "taken").write_bytes(b"the tenant's")
        new_fd, tmp, final = restore_files.create_for(fd, "taken", fresh=True)
        os.close(new_fd)
        assert not final  # not written over in place: an unnamed file or a temporary name instead
        assert (tmp_path / "taken").read_bytes() == b"the tenant's"
        free_fd, tmp, final = restore_files.create_for(fd, "free", fresh=True)
        os.close(free_fd)
        assert final and tmp is None and (tmp_path / "free").exists()
        os.symlink("/etc/passwd", tmp_path / "link")
        link_fd, _tmp, final = restore_files.create_for(fd, "link", fresh=True)
        os.close(link_fd)
        assert not final and os.path.islink(tmp_path / "link")  # never opened through the link
    finally:
        os.close(fd)


@pytest.mark.skipif(os.geteuid() != 0, reason="owners are restored only as root")
def test_files_made_in_place_get_exactly_their_owner_and_mode_whatever_the_umask_and_set_gid(repo, tmp_path):
    src = tmp_path / "src"
    os.makedirs(src / "d")
    wanted = {"plain": (0o644, 0, 0), "private": (0o600, 0, 0), "setuid": (0o4755, 0, 0),
              "theirs": (0o640, 1234, 5678), "group": (0o664, 0, 0)}
    for name, (mode, uid, gid) in wanted.items():
        for where in (src, src / "d"):
            (where / name).write_bytes(name.encode())
            os.chown(where / name, uid, gid)
            os.chmod(where / name, mode)
    snap = engine.backup(repo, str(src))
    out = tmp_path / "out"
    os.makedirs(out)
    os.chown(out, 0, 4321)
    os.chmod(out, 0o2755)  # set-group-id: new files would get group 4321 by themselves
    old = os.umask(0o077)  # and would lose group and other bits
    try:
        summary = engine.restore(repo, snap, str(out))
    finally:
        os.umask(old)
    assert summary["errors"] == []
    for name, (mode, uid, gid) in wanted.items():
        for where in (out, out / "d"):
            st = os.lstat(where / name)
            assert (oct(st.st_mode & 0o7777), st.st_uid, st.st_gid) == (oct(mode), uid, gid), where / name


def test_identical_directories_chosen_differently_are_each_restored_as_chosen(repo, tmp_path):
    src = tmp_path / "src"
    for d in ("a", "b", "c"):  # one tree blob for all three: the plan keeps listings by path, not by id
        os.makedirs(src / d)
        (src / d / "x").write_bytes(b"x")
        (src / d / "y").write_bytes(b"y")
    snap = engine.backup(repo, str(src))
    out = tmp_path / "out"
    engine.restore(repo, snap, str(out), include=["/a/x", "/c"])
    found = sorted(os.path.relpath(os.path.join(d, f), out) for d, _s, fs in os.walk(out) for f in fs)
    assert found == ["a/x", "c/x", "c/y"]


def test_a_large_file_is_looked_up_in_the_index_once_for_all_its_blobs(repo, tmp_path, monkeypatch):
    from sharebackup.engine.index import Index

    src = tmp_path / "src"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(6 << 20))  # several chunks
    snap = engine.backup(repo, str(src))
    many, single = [], []
    real_many, real_get = Index.get_many, Index.get
    monkeypatch.setattr(Index, "get_many", lambda self, ids: many.append(len(ids)) or real_many(self, ids))
    monkeypatch.setattr(Index, "get", lambda self, blob_id: single.append(blob_id) or real_get(self, blob_id))
    engine.restore(repo, snap, str(tmp_path / "out"))
    tree = repo.load_tree(bytes.fromhex(repo.load_snapshot(snap)["tree"]))
    chunks = [bytes.fromhex(c) for c in {n["name"]: n for n in tree["nodes"]}["big.bin"]["content"]]
    assert len(chunks) > 1 and len(chunks) in many
    assert not set(chunks) & set(single)  # neither again by the prefetcher nor by the loading thread
    assert (tmp_path / "out" / "big.bin").read_bytes() == (src / "big.bin").read_bytes()
