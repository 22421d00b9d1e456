"""Promises of the engine as a library: standalone imports, bounded memory, callbacks."""

import ast
import importlib
import os
import pathlib
import pty
import subprocess
import sys

from sharebackup import engine

ENGINE_DIR = pathlib.Path(engine.__file__).parent


def test_engine_imports_nothing_of_the_service():
    forbidden = ("sharebackup.api", "sharebackup.db", "sharebackup.services", "sharebackup.queue", "sharebackup.workflows",
                 "sharebackup.config")
    for path in ENGINE_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(forbidden), f"{path.name} imports {name}"


# What the engine may import of sharebackup: itself, and core/ (the shared lease keeper), except
# core/runtime.py, which ties a process's config, database and policy together.
ENGINE_MAY_IMPORT = ("sharebackup.engine", "sharebackup.core")
ENGINE_MAY_NOT_IMPORT = ("sharebackup.core.runtime",)


def _sharebackup_imports(tree) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]  # from x import module
    return [n for n in names if n == "sharebackup" or n.startswith("sharebackup.")]


def test_engine_imports_only_itself_and_core():
    offenders = []
    for path in ENGINE_DIR.rglob("*.py"):
        for name in _sharebackup_imports(ast.parse(path.read_text())):
            if name == "sharebackup":
                continue
            allowed = name in ENGINE_MAY_IMPORT or name.startswith(tuple(p + "." for p in ENGINE_MAY_IMPORT))
            if not allowed or name.startswith(ENGINE_MAY_NOT_IMPORT):
                offenders.append(f"{path.relative_to(ENGINE_DIR)} imports {name}")
    assert offenders == []

def test_chunks_in_flight_stay_within_the_budget(mem_repo, tmp_path, monkeypatch):
    walk_mod = importlib.import_module("sharebackup.engine.backup_walk")
    src = tmp_path / "src"
    src.mkdir()
    for i in range(6):
        (src / f"f{i}").write_bytes(os.urandom(3 << 20))
    seen = []
    real = walk_mod.BackupRun._store_chunk

    def spy(self, data):
        seen.append(self.budget.used)
        return real(self, data)

    monkeypatch.setattr(walk_mod.BackupRun, "_store_chunk", spy)
    limit = 1 << 20
    engine.backup(mem_repo, str(src), options=engine.BackupOptions(max_inflight_bytes=limit, workers=2))
    assert seen
    # one chunk may exceed the limit on its own (max 4 MiB), never more than that
    assert max(seen) <= limit + (4 << 20)


def test_progress_callback_from_worker_threads_is_fine(mem_repo, tmp_path):
    import threading

    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_bytes(os.urandom(2 << 20))
    threads = set()
    snap = engine.backup(mem_repo, str(src), progress=lambda d, t: threads.add(threading.current_thread().name))
    engine.restore(mem_repo, snap, str(tmp_path / "out"), progress=lambda d, t: threads.add(threading.current_thread().name))
    assert threads  # called; any thread may call it
    assert (tmp_path / "out" / "a").read_bytes() == (src / "a").read_bytes()


def test_hostname_and_tags_are_recorded(mem_repo, tmp_path):
    (tmp_path / "src").mkdir()
    snap = engine.backup(mem_repo, str(tmp_path / "src"), hostname="share-host", tags=["backup-42"])
    doc = mem_repo.load_snapshot(snap)
    assert doc["hostname"] == "share-host" and doc["tags"] == ["backup-42"]
    assert mem_repo.resolve_snapshot("latest") == snap


def test_progress_bar_only_on_a_terminal(tmp_path):
    repo, src = str(tmp_path / "repo"), tmp_path / "src"
    src.mkdir()
    (src / "f").write_bytes(os.urandom(300_000))
    cli = [sys.executable, "-m", "sharebackup.cli.repo_commands", "repo"]
    subprocess.run(cli + ["init", "--repo", repo], check=True, capture_output=True)
    master, slave = pty.openpty()
    proc = subprocess.run(cli + ["backup", "--repo", repo, str(src)], stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    drawn = b""
    try:
        while True:
            chunk = os.read(master, 4096)
            if not chunk:
                break
            drawn += chunk
    except OSError:
        pass
    os.close(master)
    assert proc.returncode == 0
    assert b"100.0%" in drawn and b"backup [" in drawn
    piped = subprocess.run(cli + ["backup", "--repo", repo, str(src)], capture_output=True)
    assert piped.stderr == b""


def test_read_ahead_hands_out_fds_and_closes_the_rest(tmp_path):
    from sharebackup.engine.read_ahead import ReadAhead

    paths = []
    for i in range(5):
        p = tmp_path / f"f{i}"
        p.write_bytes(b"x" * i)
        paths.append(str(p))
    paths.insert(2, str(tmp_path / "missing"))  # vanished: skipped, not fatal
    opened = []

    def opener(path):
        fd = os.open(path, os.O_RDONLY)
        opened.append(fd)
        return fd, path  # the fd and what the caller wants back with it

    ahead = ReadAhead(paths, opener, window=2)
    assert len(opened) == 2  # never more than the window
    fd, what = ahead.take(paths[0])
    assert os.fstat(fd).st_size == 0 and what == paths[0]
    os.close(fd)
    assert ahead.take(str(tmp_path / "missing")) is None
    ahead.close()
    for other in opened[1:]:
        try:
            os.fstat(other)
            still_open = True
        except OSError:
            still_open = False
        assert not still_open
