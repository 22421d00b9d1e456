"""Backup then restore gives back the same tree, metadata and all."""

import os

import pytest

from sharebackup import engine
from sharebackup.engine import safe_fs
import importlib

backup_mod = importlib.import_module("sharebackup.engine.backup_walk")

from .helpers import assert_same_tree, make_rich_tree


def test_round_trip_keeps_every_file_type_and_metadata(repo, tmp_path):
    src = tmp_path / "src"
    make_rich_tree(src)
    snap = engine.backup(repo, str(src))
    summary = engine.restore(repo, snap, str(tmp_path / "out"))
    assert summary["errors"] == []
    assert_same_tree(str(src), str(tmp_path / "out"))
    st = os.stat(tmp_path / "out" / "sparse.img")
    assert st.st_blocks * 512 < 1024 * 1024  # the 8 MiB file stays sparse
    assert os.stat(tmp_path / "out" / "hard").st_ino == os.stat(tmp_path / "out" / "docs" / "a.txt").st_ino


def test_unchanged_files_are_not_read_again(repo, tmp_path, monkeypatch):
    src = tmp_path / "src"
    make_rich_tree(src)
    first = engine.backup(repo, str(src))
    (src / "docs" / "a.txt").write_bytes(b"changed")  # also changes its hard links
    (src / "new.txt").write_bytes(b"new")
    opened = []
    real_open = backup_mod._open_for_reading
    monkeypatch.setattr(backup_mod, "_open_for_reading", lambda dir_fd, name, st: opened.append(
        os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), os.fsdecode(name))) or real_open(dir_fd, name, st))
    second = engine.backup(repo, str(src), parent=first)
    assert sorted(os.path.relpath(p, src) for p in opened) == ["docs/a.txt", "new.txt"]
    summary = repo.load_snapshot(second)["summary"]
    assert summary["files_new"] == 1 and summary["files_changed"] == 1
    engine.restore(repo, second, str(tmp_path / "out"))
    assert_same_tree(str(src), str(tmp_path / "out"))


def test_progress_reaches_the_total_and_never_goes_back(mem_repo, tmp_path):
    src = tmp_path / "src"
    make_rich_tree(src)
    calls = []
    engine.backup(mem_repo, str(src), progress=lambda d, t: calls.append((d, t)))
    assert calls, "no progress reported"
    dones = [d for d, _ in calls]
    assert dones == sorted(dones)
    assert calls[-1][0] == calls[-1][1] > 11 * 1024 * 1024


def test_restore_progress_reaches_the_total(mem_repo, tmp_path):
    src = tmp_path / "src"
    make_rich_tree(src)
    snap = engine.backup(mem_repo, str(src))
    calls = []
    engine.restore(mem_repo, snap, str(tmp_path / "out"), progress=lambda d, t: calls.append((d, t)))
    assert calls[-1][0] == calls[-1][1] > 0


def test_merge_keeps_extra_files_and_replace_removes_them(mem_repo, tmp_path):
    src = tmp_path / "src"
    make_rich_tree(src)
    snap = engine.backup(mem_repo, str(src))
    out = tmp_path / "out"
    (out / "docs").mkdir(parents=True)
    (out / "extra.txt").write_bytes(b"mine")
    (out / "docs" / "a.txt").write_bytes(b"stale")
    (out / "random.bin").mkdir()  # a directory where the snapshot has a file
    engine.restore(mem_repo, snap, str(out), mode="merge")
    assert (out / "extra.txt").read_bytes() == b"mine"
    assert (out / "docs" / "a.txt").read_bytes() == (src / "docs" / "a.txt").read_bytes()
    assert (out / "random.bin").is_file()
    engine.restore(mem_repo, snap, str(out), mode="replace")
    assert not (out / "extra.txt").exists()
    assert_same_tree(str(src), str(out))


def test_special_files_can_be_skipped_and_are_reported(mem_repo, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    os.mkfifo(src / "fifo")
    reports = []
    snap = engine.backup(mem_repo, str(src), report=lambda *a: reports.append(a),
                         options=engine.BackupOptions(special_files="skip"))
    assert reports == [("/fifo", "skipped", "fifo not backed up (special_files=skip)")]
    engine.restore(mem_repo, snap, str(tmp_path / "out"))
    assert os.listdir(tmp_path / "out") == []


def test_files_vanishing_or_changing_during_backup_are_reported(mem_repo, tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a-grows").write_bytes(b"x" * 1000)
    (src / "b-vanishes").write_bytes(b"y")
    (src / "c-stays").write_bytes(b"z")
    def before_open(dir_fd, name):  # safe_fs calls it after the listing, before each open
        if name == b"a-grows" and (src / "b-vanishes").exists():
            os.unlink(src / "b-vanishes")  # removed after listing, before reading
            with open(src / "a-grows", "ab") as f:
                f.write(b"more")  # changes between stat and read

    monkeypatch.setattr(safe_fs, "race_hook", before_open)
    reports = []
    snap = engine.backup(mem_repo, str(src), report=lambda *a: reports.append(a))
    monkeypatch.undo()
    kinds = {(p, k) for p, k, _ in reports}
    assert ("/b-vanishes", "vanished") in kinds
    assert repo_names(mem_repo, snap) == ["a-grows", "c-stays"]
    assert len(repo_snapshot(mem_repo, snap)["warnings"]) == len(reports)


def repo_snapshot(repo, snap):
    return repo.load_snapshot(snap)


def repo_names(repo, snap):
    from sharebackup.engine.tree import decode_tree

    tree = repo.load_snapshot(snap)["tree"]
    return [n["name"] for n in decode_tree(repo.load_tree(bytes.fromhex(tree)))]


def test_large_file_is_chunked_and_deduplicated(mem_repo, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    data = os.urandom(6 * 1024 * 1024)
    (src / "one").write_bytes(data)
    (src / "two").write_bytes(data)  # same bytes, different inode
    snap = engine.backup(mem_repo, str(src))
    summary = mem_repo.load_snapshot(snap)["summary"]
    assert len(data) <= summary["data_added"] < len(data) + 4096  # stored once (plus one small tree)
    assert summary["blobs_added"] > 3  # several chunks plus one tree


def test_unknown_mode_and_missing_snapshot_are_errors(mem_repo, tmp_path):
    with pytest.raises(engine.EngineError):
        engine.restore(mem_repo, "abc", str(tmp_path), mode="overwrite")
    with pytest.raises(engine.SnapshotNotFound):
        engine.restore(mem_repo, "ffff", str(tmp_path))


def test_restore_without_o_tmpfile_uses_named_temporaries(mem_repo, tmp_path, monkeypatch):
    # NFS and some other share file systems have no O_TMPFILE: the fallback must be as good
    from sharebackup.engine import restore_files

    monkeypatch.setattr(restore_files, "_tmpfile_ok", False)
    src = tmp_path / "src"
    make_rich_tree(src)
    snap = engine.backup(mem_repo, str(src))
    out = tmp_path / "out"
    (out / "docs").mkdir(parents=True)
    (out / "docs" / "a.txt").write_bytes(b"stale")  # merged over
    engine.restore(mem_repo, snap, str(out), mode="replace")
    assert_same_tree(str(src), str(out))
    assert not [n for _d, _s, fs in os.walk(out) for n in fs if n.startswith(restore_files.TMP_PREFIX)]
