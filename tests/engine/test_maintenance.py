"""Forget, gc (delete, repack, grace, lock) and stats."""

import os

import pytest

from sharebackup import engine

from .helpers import assert_same_tree


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_forget_then_gc_frees_the_data_and_keeps_the_rest(repo, tmp_path):
    src = tmp_path / "src"
    write(src / "kept", os.urandom(300_000))
    write(src / "dropped", os.urandom(2_500_000))
    first = engine.backup(repo, str(src))
    os.unlink(src / "dropped")
    second = engine.backup(repo, str(src), parent=first)
    size_before = engine.stats(repo)["repository_bytes"]
    assert engine.forget(repo, first[:10]) == first
    stats = engine.gc(repo, grace=0)
    assert stats["packs_deleted"] + stats["packs_repacked"] >= 1
    after = engine.stats(repo)
    assert after["repository_bytes"] < size_before - 2_000_000
    assert after["snapshots"] == 1 and after["index_files"] == 1
    assert engine.check(repo, read_data=True).ok
    engine.restore(repo, second, str(tmp_path / "out"))
    assert_same_tree(str(src), str(tmp_path / "out"))


def test_gc_repacks_mostly_garbage_packs(mem_repo, tmp_path):
    src = tmp_path / "src"
    for i in range(20):
        write(src / f"f{i}", os.urandom(40_000))  # all in one 1 MiB pack
    first = engine.backup(mem_repo, str(src))
    for i in range(1, 20):
        os.unlink(src / f"f{i}")
    second = engine.backup(mem_repo, str(src), parent=first)
    engine.forget(mem_repo, first)
    stats = engine.gc(mem_repo, grace=0)
    assert stats["packs_repacked"] == 1 and stats["packs_written"] >= 1
    assert engine.check(mem_repo, read_data=True).ok
    engine.restore(mem_repo, second, str(tmp_path / "out"))
    assert (tmp_path / "out" / "f0").read_bytes() == (src / "f0").read_bytes()


def test_gc_grace_period_keeps_young_packs(mem_repo, tmp_path):
    src = tmp_path / "src"
    write(src / "a", os.urandom(100_000))
    snap = engine.backup(mem_repo, str(src))
    engine.forget(mem_repo, snap)
    packs_before = len(list(mem_repo.store.list("data/")))
    stats = engine.gc(mem_repo)  # default grace: an hour
    assert stats["packs_deleted"] == 0
    assert stats["packs_kept_for_grace"] == packs_before  # and gc says why it freed nothing
    assert len(list(mem_repo.store.list("data/"))) == packs_before
    stats = engine.gc(mem_repo, grace=0)
    assert list(mem_repo.store.list("data/")) == []
    assert stats["packs_kept_for_grace"] == 0


def test_gc_refuses_to_run_while_a_backup_holds_its_lock(mem_repo):
    held = mem_repo.lock(exclusive=False, purpose="backup")
    try:
        with pytest.raises(engine.LockedError):
            engine.gc(mem_repo, grace=0)
        with pytest.raises(engine.LockedError):
            engine.forget(mem_repo, "x")
    finally:
        held.release()
    assert list(mem_repo.store.list("locks/")) == []
    engine.gc(mem_repo, grace=0)  # free again


def test_expired_locks_do_not_block_and_are_removed(mem_repo):
    stale = engine.Repository.lock(mem_repo, exclusive=True, lease=0.01)
    stale._stop.set()  # simulate a dead process: no renewals
    import time

    time.sleep(0.05)
    stats = engine.gc(mem_repo, grace=0)
    assert stats["locks_removed"] == 1


def test_gc_removes_orphan_packs_of_an_interrupted_backup(mem_repo, tmp_path):
    src = tmp_path / "src"
    write(src / "a", os.urandom(50_000))
    # an interrupted backup: its pack is stored but neither indexed nor referenced
    from sharebackup.engine.pack import BLOB_DATA, PackBuilder, pack_name

    builder = PackBuilder()
    data = os.urandom(1000)
    bid = mem_repo.codec.blob_id(data)
    builder.add(BLOB_DATA, bid, mem_repo.codec.encode(data, bid), len(data))
    pack_id, raw = builder.finish(mem_repo.codec)
    mem_repo.store.put_if_absent(pack_name(pack_id), raw)
    assert engine.check(mem_repo).warnings
    engine.backup(mem_repo, str(src))  # the next backup indexes it
    assert bid in mem_repo.index
    stats = engine.gc(mem_repo, grace=0)
    assert stats["packs_deleted"] + stats["packs_repacked"] == 1
    assert not mem_repo.store.exists(pack_name(pack_id))
    assert engine.check(mem_repo, read_data=True).ok


def test_a_held_lock_is_renewed_before_its_lease_runs_out(mem_repo):
    import time

    held = engine.Repository.lock(mem_repo, exclusive=False, purpose="long backup", lease=1.0)
    try:
        time.sleep(2.2)  # more than two leases: only renewal keeps it alive
        with pytest.raises(engine.LockedError):
            engine.gc(mem_repo, grace=0)
    finally:
        held.release()
    assert list(mem_repo.store.list("locks/")) == []
