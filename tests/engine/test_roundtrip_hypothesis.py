"""Property: for any tree, backup then restore gives an identical tree (and so does an
incremental backup after random changes)."""

import itertools
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharebackup import engine

from .helpers import assert_same_tree

NAME = st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)), min_size=1, max_size=12).filter(
    lambda s: s not in (".", "..")
)
CONTENT = st.one_of(
    st.binary(max_size=2000),
    st.builds(lambda b, n: b * n, st.binary(min_size=1, max_size=64), st.integers(1, 20_000)),  # compressible, up to ~1.3 MB
)
MODE = st.sampled_from([0o644, 0o600, 0o755, 0o400, 0o4755, 0o1777])
MTIME = st.integers(0, 2**62)


@st.composite
def trees(draw, depth=0):
    entries = {}
    names = st.lists(NAME, min_size=3 if depth == 0 else 0, max_size=8, unique_by=lambda s: os.fsencode(s).lower())
    for name in draw(names):
        kinds = ["file", "symlink", "hardlink", "empty"] + (["dir"] if depth < 3 else [])
        kind = draw(st.sampled_from(kinds))
        if kind == "dir":
            entries[name] = ("dir", draw(trees(depth + 1)), draw(st.sampled_from([0o755, 0o700, 0o1777])), draw(MTIME))
        elif kind == "symlink":
            entries[name] = ("symlink", draw(NAME), None, draw(MTIME))
        elif kind == "empty":
            entries[name] = ("file", b"", draw(MODE), draw(MTIME))
        elif kind == "hardlink":
            entries[name] = ("hardlink", None, None, None)
        else:
            entries[name] = ("file", draw(CONTENT), draw(MODE), draw(MTIME))
    return entries


def build(root: str, spec: dict, files: list) -> None:
    os.makedirs(root, exist_ok=True)
    dirs = []
    for name, (kind, payload, mode, mtime) in spec.items():
        path = os.path.join(root, name)
        if kind == "dir":
            build(path, payload, files)
            dirs.append((path, mode, mtime))
        elif kind == "file":
            with open(path, "wb") as f:
                f.write(payload)
            os.chmod(path, mode)
            os.utime(path, ns=(mtime, mtime))
            files.append(path)
        elif kind == "symlink":
            os.symlink(payload, path)
            os.utime(path, ns=(mtime, mtime), follow_symlinks=False)
        elif kind == "hardlink" and files:
            os.link(files[len(files) // 2], path)
    for path, mode, mtime in dirs:
        os.chmod(path, mode)
        os.utime(path, ns=(mtime, mtime))


_counter = itertools.count()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=trees(), change=st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=300)), max_size=4))
def test_backup_restore_round_trip(tmp_path, spec, change):
    base = tmp_path / str(next(_counter))
    src, out1, out2 = str(base / "src"), str(base / "out1"), str(base / "out2")
    files: list = []
    build(src, spec, files)
    os.utime(src, ns=(10**18, 10**18))
    store = engine.MemoryStore()
    engine.Repository.init(store, pack_size=256 * 1024)
    repo = engine.Repository.open(store)
    first = engine.backup(repo, src)
    engine.restore(repo, first, out1)
    assert_same_tree(src, out1)
    # random edits, then an incremental backup must give the edited tree back
    for i, data in change:
        if files:
            path = files[i % len(files)]
            if os.access(path, os.W_OK) or os.geteuid() == 0:
                with open(path, "ab") as f:
                    f.write(data)
    second = engine.backup(repo, src, parent=first)
    engine.restore(repo, second, out2, mode="replace")
    assert_same_tree(src, out2)
    assert engine.check(repo, read_data=True).ok
