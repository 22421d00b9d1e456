"""A live tenant flips directories for symlinks to a host directory, over and over,
while three backups and three restores run on the share: none of them may reach the host.

Unlike test_share_races.py this uses no hook: real threads, real timing, as a tenant
writing over NFS would. It is bounded in rounds and in time.
"""

from __future__ import annotations

import os
import random
import stat
import threading

import pytest

from sharebackup import engine

SECRET = b"HOST-SECRET-rolling"
DIRS = [f"d{i}" for i in range(8)]
ROUNDS = 4  # backups (and restores) per thread


def make_tree(root) -> None:
    for d in DIRS:
        (root / d / "deeper").mkdir(parents=True)
        for i in range(12):
            (root / d / f"f{i}").write_bytes(f"{d}/{i} tenant data ".encode() * 20)
        (root / d / "deeper" / "f0").write_bytes(b"deeper")
    os.link(root / "d0" / "f0", root / "d7" / "link-to-d0-f0")  # a hard-link group across directories


def host_state(host) -> list:
    out = []
    for dirpath, dirs, files in os.walk(host):
        for name in sorted(dirs + files):
            st = os.lstat(os.path.join(dirpath, name))
            out.append((dirpath, name, stat.S_IMODE(st.st_mode), st.st_nlink, st.st_size, st.st_mtime_ns))
    st = os.lstat(host)
    return out + [(stat.S_IMODE(st.st_mode), st.st_mtime_ns)]


class Flipper(threading.Thread):
    """Swaps a directory of each watched tree for a symlink to the host and back, endlessly."""

    def __init__(self, roots, host):
        super().__init__(daemon=True)
        self.roots, self.host, self.flips = roots, host, 0
        self.stop = threading.Event()
        self.rng = random.Random(1234)

    def run(self):
        while not self.stop.is_set() and self.flips < 200_000:
            root = self.rng.choice(self.roots)
            name = self.rng.choice(DIRS)
            path, aside = os.path.join(root, name), os.path.join(root, name + ".aside")
            try:
                os.rename(path, aside)
            except OSError:
                continue
            try:
                os.symlink(self.host, path)
                self.flips += 1
                for _ in range(self.rng.randrange(50)):
                    pass  # hold the symlink in place a little
                os.unlink(path)
            except OSError:
                pass
            finally:
                try:
                    os.rename(aside, path)
                except OSError:
                    pass


def host_inodes(host) -> set:
    return {os.lstat(os.path.join(d, f)).st_ino for d, _dirs, files in os.walk(host) for f in files}


def test_backups_and_restores_under_a_rolling_swap_never_reach_the_host(tmp_path):
    host = tmp_path / "host"
    (host / "deeper").mkdir(parents=True)
    for i in range(12):
        (host / f"f{i}").write_bytes(SECRET)
        (host / f"f{i}").chmod(0o600)
    (host / "deeper" / "f0").write_bytes(SECRET)
    host.chmod(0o700)
    before = host_state(host)
    inodes = host_inodes(host)

    share = tmp_path / "share"
    make_tree(share)
    store = engine.open_store(str(tmp_path / "repo"))
    engine.Repository.init(store, pack_size=1 << 20)
    clean = engine.backup(engine.Repository.open(store), str(share))
    targets = [tmp_path / f"target{i}" for i in range(3)]
    for target in targets:
        target.mkdir()

    snapshots, failures = [], []

    def backups():
        repo = engine.Repository.open(store)
        for _ in range(ROUNDS):
            snapshots.append(engine.backup(repo, str(share), report=lambda *a: None))

    def restores(target):
        repo = engine.Repository.open(store)
        for round_ in range(ROUNDS):
            engine.restore(repo, clean, str(target), mode="replace" if round_ % 2 else "merge",
                           report=lambda *a: None)

    def guarded(fn, *args):
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 - a crash is a finding, reported below
            import traceback
            failures.append(traceback.format_exc())

    flipper = Flipper([str(share)] + [str(t) for t in targets], str(host))
    workers = [threading.Thread(target=guarded, args=(backups,)) for _ in range(3)]
    workers += [threading.Thread(target=guarded, args=(restores, t)) for t in targets]
    flipper.start()
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    flipper.stop.set()
    flipper.join(timeout=10)
    assert not any(w.is_alive() for w in workers), "a backup or restore did not end"
    assert not failures, "\n".join(failures)
    assert flipper.flips > 0

    assert host_state(host) == before, "the host directory was written, chmodded or linked"
    for target in targets + [share]:
        for dirpath, _dirs, files in os.walk(target):
            for name in files:
                st = os.lstat(os.path.join(dirpath, name))
                assert st.st_ino not in inodes, f"{dirpath}/{name} is a hard link to a host file"
    assert len(snapshots) == 3 * ROUNDS
    repo = engine.Repository.open(store)
    for i, snap in enumerate(snapshots):
        out = tmp_path / f"check{i}"
        engine.restore(repo, snap, str(out))
        for dirpath, _dirs, files in os.walk(out):
            for name in files:
                path = os.path.join(dirpath, name)
                if not os.path.islink(path):
                    with open(path, "rb") as fh:
                        assert SECRET not in fh.read(), f"snapshot {snap} holds host data at {path}"


@pytest.fixture(autouse=True)
def _no_leftover_threads():
    yield
    assert threading.active_count() < 50
