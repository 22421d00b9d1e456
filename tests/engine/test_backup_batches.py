"""Small files' blobs go to the backup pool in batches; a small in-flight budget never
deadlocks the walk on bytes held by a batch not yet sent."""

import os
import threading

from sharebackup import engine

from .helpers import snapshot_of_tree


def make_tree(root):
    for d in range(5):
        sub = root / f"d{d}" / "inner"
        os.makedirs(sub)
        for i in range(150):
            (root / f"d{d}" / f"small{i}").write_bytes(os.urandom(i * 37 % 3000 + 1))
        for i in range(5):
            (sub / f"f{i}").write_bytes(b"x" * i)
        (root / f"d{d}" / "big").write_bytes(os.urandom(700_000))  # chunked, not batched
    os.link(root / "d0" / "small1", root / "d1" / "hardlink")


def backup_in_time(repo, src, **options):
    result = {}
    worker = threading.Thread(target=lambda: result.update(
        snap=engine.backup(repo, str(src), options=engine.BackupOptions(**options))), daemon=True)
    worker.start()
    worker.join(120)
    assert not worker.is_alive(), "the backup hung"
    return result["snap"]


def test_many_small_files_round_trip_through_batches(repo, tmp_path):
    make_tree(tmp_path / "src")
    snap = backup_in_time(repo, tmp_path / "src")
    summary = repo.load_snapshot(snap)["summary"]
    assert summary["files_new"] == 5 * 156 and summary["hardlinks"] == 1
    engine.restore(repo, snap, str(tmp_path / "out"))
    assert snapshot_of_tree(str(tmp_path / "out")) == snapshot_of_tree(str(tmp_path / "src"))


def test_a_budget_smaller_than_one_batch_does_not_deadlock(repo, tmp_path):
    make_tree(tmp_path / "src")
    snap = backup_in_time(repo, tmp_path / "src", max_inflight_bytes=4096, workers=2)
    engine.restore(repo, snap, str(tmp_path / "out"))
    assert snapshot_of_tree(str(tmp_path / "out")) == snapshot_of_tree(str(tmp_path / "src"))
