"""Large files are read by the backup's reader thread while the walk goes on (backup_walk.py)."""

from __future__ import annotations

import errno
import os
import threading
import time

import pytest

from sharebackup import engine
from sharebackup.engine import backup_walk, file_reader

from .helpers import snapshot_of_tree

LARGE = 300 << 10  # above the test repositories' small-file limit (the chunker's 256 KiB minimum)


@pytest.fixture(autouse=True)
def small_large_files(monkeypatch):
    monkeypatch.setattr(backup_walk, "LARGE_FILE", LARGE)


def make_tree(src, large: int = 3) -> None:
    for i in range(large):
        (src / f"d{i}").mkdir(parents=True)
        (src / f"d{i}" / "big.bin").write_bytes(os.urandom(LARGE + (3 << 20) * i))
        (src / f"d{i}" / "small.txt").write_bytes(b"small %d\n" % i * 10)
    (src / "top.bin").write_bytes(os.urandom(LARGE))


def read_by_thread(monkeypatch) -> list[str]:
    """The names of the threads that read large files, one a file."""
    readers = []
    real = backup_walk.BackupRun._read_large

    def recording(self, fd, st):
        readers.append(threading.current_thread().name)
        return real(self, fd, st)

    monkeypatch.setattr(backup_walk.BackupRun, "_read_large", recording)
    return readers


def test_large_files_are_read_beside_the_walk_and_restore_whole(repo, tmp_path, monkeypatch):
    src = tmp_path / "src"
    make_tree(src)
    readers = read_by_thread(monkeypatch)
    snap = engine.backup(repo, str(src))
    assert len(readers) == 4 and all(name.startswith("sharebackup-read") for name in readers)
    summary = repo.load_snapshot(snap)["summary"]
    sizes = sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
    assert summary["files_new"] == 7
    assert summary["bytes_read"] == sizes
    assert summary["total_bytes"] == sizes
    out = tmp_path / "out"
    engine.restore(repo, snap, str(out))
    assert snapshot_of_tree(str(out)) == snapshot_of_tree(str(src))


def test_a_large_file_that_fails_to_read_is_reported_and_left_out(mem_repo, tmp_path, monkeypatch):
    src = tmp_path / "src"
    make_tree(src, large=2)
    real = file_reader.iter_pieces
    failing = os.stat(src / "d1" / "big.bin").st_ino

    def pieces(fd, st, *args):
        for n, piece in enumerate(real(fd, st, *args)):
            if st.st_ino == failing and n == 1:
                raise OSError(errno.EIO, "Input/output error")
            yield piece

    monkeypatch.setattr(file_reader, "iter_pieces", pieces)
    reports = []
    snap = engine.backup(mem_repo, str(src), report=lambda *r: reports.append(r))
    assert reports == [("/d1/big.bin", "error", "Input/output error; not in snapshot")]
    out = tmp_path / "out"
    engine.restore(mem_repo, snap, str(out))
    assert not (out / "d1" / "big.bin").exists()
    assert (out / "d1" / "small.txt").read_bytes() == (src / "d1" / "small.txt").read_bytes()
    assert (out / "d0" / "big.bin").read_bytes() == (src / "d0" / "big.bin").read_bytes()
    assert mem_repo.load_snapshot(snap)["summary"]["files_new"] == 4


def test_a_large_file_written_while_read_is_reported(mem_repo, tmp_path, monkeypatch):
    src = tmp_path / "src"
    make_tree(src, large=1)
    real = file_reader.iter_pieces
    target = src / "top.bin"

    def pieces(fd, st, *args):
        for n, piece in enumerate(real(fd, st, *args)):
            if n == 0 and os.fstat(fd).st_ino == target.stat().st_ino:
                with open(target, "ab") as f:
                    f.write(b"more")
                os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
            yield piece

    monkeypatch.setattr(file_reader, "iter_pieces", pieces)
    reports = []
    engine.backup(mem_repo, str(src), report=lambda *r: reports.append(r))
    assert [(path, kind) for path, kind, _ in reports] == [("/top.bin", "changed")]
    assert "modified while being read" in reports[0][2]


def test_at_most_a_few_large_files_wait_for_the_reader(mem_repo, tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(6):
        (src / f"big{i}.bin").write_bytes(os.urandom(LARGE))
    gate = threading.Event()
    handed = []
    real = backup_walk.BackupRun._read_large

    def held(self, fd, st):
        gate.wait(30)
        return real(self, fd, st)

    real_submit = backup_walk.ContextThreadPool.submit

    def counting_submit(self, fn, *args, **kwargs):
        if getattr(fn, "__name__", "") == "held":
            handed.append(args[0])
        return real_submit(self, fn, *args, **kwargs)

    monkeypatch.setattr(backup_walk.BackupRun, "_read_large", held)
    monkeypatch.setattr(backup_walk.ContextThreadPool, "submit", counting_submit)
    done = []
    walker = threading.Thread(target=lambda: done.append(engine.backup(mem_repo, str(src))))
    walker.start()
    try:
        deadline = time.monotonic() + 10
        while len(handed) < backup_walk.LARGE_QUEUED and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # time for the walk to hand over more, were it not held back
        assert len(handed) == backup_walk.LARGE_QUEUED
    finally:
        gate.set()
        walker.join(30)
    assert done and len(handed) == 6


def test_a_failed_backup_closes_the_files_the_reader_was_given(mem_repo, tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(4):
        (src / f"big{i}.bin").write_bytes(os.urandom(LARGE))

    def broken(self, data):
        self.budget.release(len(data))
        raise engine.StoreError("the store went away")

    monkeypatch.setattr(backup_walk.BackupRun, "_store_chunk", broken)
    with pytest.raises(engine.StoreError):
        engine.backup(mem_repo, str(src))
    open_paths = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            open_paths.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass
    assert not [p for p in open_paths if p.startswith(str(src))]
    assert not [t for t in threading.enumerate() if t.name.startswith("sharebackup-read")]
