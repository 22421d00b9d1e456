"""engine.gc's hooks for callers that coordinate it: waiting for the exclusive lock, keep_going()
before every deletion (and the lock's own margin), and forgetting chosen snapshots first."""
from __future__ import annotations

import os
import threading

import pytest

from sharebackup import engine
from sharebackup.engine import maintenance


def _repo(tmp_path):
    store = engine.open_store(str(tmp_path / "repo"))
    engine.Repository.init(store, pack_size=1 << 20)
    return engine.Repository.open(store)


def _garbage_repo(tmp_path):
    """A repository with one kept and one forgotten snapshot (its data is garbage)."""
    repo = _repo(tmp_path)
    src = tmp_path / "src"
    src.mkdir()
    (src / "kept").write_bytes(os.urandom(200_000))
    kept = engine.backup(repo, str(src))
    (src / "dropped").write_bytes(os.urandom(1_500_000))
    dropped = engine.backup(repo, str(src), parent=kept)
    engine.forget(repo, dropped)
    return repo, kept


def _objects(repo):
    return sorted(i.name for i in repo.store.list("") if not i.name.startswith("locks/"))


def test_keep_going_false_stops_before_the_first_deletion(tmp_path):
    repo, kept = _garbage_repo(tmp_path)
    before = _objects(repo)
    with pytest.raises(engine.AbortedError, match="caller asked to stop"):
        engine.gc(repo, grace=0, keep_going=lambda: False)
    after = _objects(repo)
    assert set(before) <= set(after)  # nothing deleted (a consolidated index may have been added)
    assert list(repo.store.list("locks/")) == []  # the lock was released
    assert engine.check(repo, read_data=True).ok
    stats = engine.gc(repo, grace=0)  # a later gc finishes the job
    assert stats["packs_deleted"] + stats["packs_repacked"] >= 1
    assert engine.check(repo, read_data=True).ok
    engine.restore(repo, kept, str(tmp_path / "out"))


@pytest.mark.parametrize("allowed", [1, 2, 3])
def test_stopping_between_deletions_leaves_a_consistent_repository(tmp_path, allowed):
    repo, kept = _garbage_repo(tmp_path)
    calls = []

    def keep_going():
        calls.append(1)
        return len(calls) <= allowed

    try:
        engine.gc(repo, grace=0, keep_going=keep_going)
    except engine.AbortedError:
        pass
    assert engine.check(repo, read_data=True).ok
    engine.gc(repo, grace=0)
    assert engine.check(repo, read_data=True).ok
    engine.restore(repo, kept, str(tmp_path / "out"))
    assert (tmp_path / "out" / "kept").read_bytes() == (tmp_path / "src" / "kept").read_bytes()


def test_a_lock_close_to_running_out_stops_gc(tmp_path, monkeypatch):
    repo, _kept = _garbage_repo(tmp_path)
    before = _objects(repo)
    monkeypatch.setattr(maintenance.RepoLock,
                        "remaining", lambda self: self.lease * maintenance.LOCK_MARGIN / 2)
    with pytest.raises(engine.AbortedError, match="close to running out"):
        engine.gc(repo, grace=0)
    assert set(before) <= set(_objects(repo))


def test_gc_waits_for_a_shared_lock_and_then_runs(tmp_path):
    repo, _kept = _garbage_repo(tmp_path)
    backup_lock = repo.lock(exclusive=False, purpose="backup")
    with pytest.raises(engine.LockedError):
        engine.gc(repo, grace=0)  # no wait: fails at once, as before
    result, waiting = {}, threading.Event()

    def keep_going():
        waiting.set()  # asked while waiting for the lock
        return True

    worker = threading.Thread(target=lambda: result.update(engine.gc(repo, grace=0, wait=60, keep_going=keep_going)))
    worker.start()
    assert waiting.wait(30)
    assert worker.is_alive() and result == {}  # cannot have run: the backup still holds its lock
    backup_lock.release()
    worker.join(60)
    assert result["packs_deleted"] + result["packs_repacked"] >= 1


def test_gc_stops_waiting_when_keep_going_says_no(tmp_path):
    repo, _kept = _garbage_repo(tmp_path)
    backup_lock = repo.lock(exclusive=False, purpose="backup")
    try:
        with pytest.raises(engine.AbortedError):
            engine.gc(repo, grace=0, wait=60, keep_going=lambda: False)
    finally:
        backup_lock.release()


def test_forget_hook_sees_only_manifests_older_than_the_grace(tmp_path):
    repo, kept = _garbage_repo(tmp_path)
    offered = []
    engine.gc(repo, grace=3600, forget=lambda snaps: offered.extend(snaps) or [kept])
    assert offered == [] and kept in repo.snapshot_ids()  # too young to be offered or forgotten

    def choose(snaps):
        offered.extend(s["id"] for s in snaps)
        return [kept, "not-a-snapshot-of-this-repository"]

    stats = engine.gc(repo, grace=0, forget=choose)
    assert offered == [kept] and stats["snapshots_forgotten"] == 1
    assert repo.snapshot_ids() == [] and list(repo.store.list("data/")) == []
