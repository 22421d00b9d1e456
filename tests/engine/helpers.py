"""Helpers for the engine tests: tree comparison and repository setup."""

from __future__ import annotations

import os
import stat

FAST_KDF = 2**10  # scrypt cost for tests; the default (2**15) is for real use


def snapshot_of_tree(root: str) -> dict:
    """{relative path: comparable description} for every entry under root."""
    out = {}
    inodes: dict[tuple[int, int], str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            desc = {
                "type": stat.S_IFMT(st.st_mode),
                "mode": stat.S_IMODE(st.st_mode),
                "uid": st.st_uid,
                "gid": st.st_gid,
            }
            if not stat.S_ISDIR(st.st_mode):
                desc["mtime_ns"] = st.st_mtime_ns
            else:
                desc["mtime_ns"] = st.st_mtime_ns
            if stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    desc["data"] = f.read()
                desc["sparse"] = st.st_blocks * 512 < st.st_size
            if stat.S_ISLNK(st.st_mode):
                desc["target"] = os.readlink(full)
            else:
                try:
                    desc["xattrs"] = {n: os.getxattr(full, n) for n in sorted(os.listxattr(full))}
                except OSError:
                    desc["xattrs"] = {}
            if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
                key = (st.st_dev, st.st_ino)
                desc["linked_to"] = inodes.setdefault(key, rel)
            out[rel] = desc
    return out


def assert_same_tree(a: str, b: str) -> None:
    left, right = snapshot_of_tree(a), snapshot_of_tree(b)
    assert sorted(left) == sorted(right), "different entries"
    for rel in left:
        assert {k: v for k, v in left[rel].items() if k != "data"} == {k: v for k, v in right[rel].items() if k != "data"}, rel
        assert left[rel] == right[rel], f"{rel} differs"


def can_xattr(path: str) -> bool:
    probe = os.path.join(path, ".xattr-probe")
    open(probe, "w").close()
    try:
        os.setxattr(probe, "user.probe", b"1")
        return True
    except OSError:
        return False
    finally:
        os.unlink(probe)


def make_rich_tree(root) -> None:
    """Every kind of entry the engine must keep, with non-default metadata."""
    root = str(root)
    os.makedirs(os.path.join(root, "docs", "deep", "er"))
    os.makedirs(os.path.join(root, "empty-dir"))
    with open(os.path.join(root, "docs", "a.txt"), "wb") as f:
        f.write(b"line of text\n" * 5000)
    with open(os.path.join(root, "random.bin"), "wb") as f:
        f.write(os.urandom(3 * 1024 * 1024 + 17))  # several chunks
    with open(os.path.join(root, "docs", "deep", "er", "dup.txt"), "wb") as f:
        f.write(b"line of text\n" * 5000)  # duplicate content
    open(os.path.join(root, "empty"), "wb").close()
    with open(os.path.join(root, "sparse.img"), "wb") as f:
        f.truncate(8 * 1024 * 1024)
        f.seek(3 * 1024 * 1024)
        f.write(b"data in the middle")
    os.symlink("docs/a.txt", os.path.join(root, "link"))
    os.symlink("does/not/exist", os.path.join(root, "dangling"))
    os.link(os.path.join(root, "docs", "a.txt"), os.path.join(root, "hard"))
    os.link(os.path.join(root, "docs", "a.txt"), os.path.join(root, "docs", "deep", "hard2"))
    os.mkfifo(os.path.join(root, "fifo"))
    os.chmod(os.path.join(root, "random.bin"), 0o640)
    os.chmod(os.path.join(root, "docs", "deep"), 0o750)
    nonutf8 = os.fsencode(root) + b"/caf\xe9"
    with open(nonutf8, "wb") as f:
        f.write(b"latin-1 name")
    try:
        os.setxattr(os.path.join(root, "docs", "a.txt"), "user.comment", b"kept")
        os.setxattr(os.path.join(root, "docs"), "user.dir", b"\x00\xff")
    except OSError:
        pass
    os.utime(os.path.join(root, "empty"), ns=(1_000_000_123, 1_500_000_000_987_654_321))
    os.utime(os.path.join(root, "dangling"), ns=(1, 1_400_000_000_000_000_001), follow_symlinks=False)
    os.utime(os.path.join(root, "docs", "deep"), ns=(5, 1_300_000_000_000_000_005))


def craft_snapshot(repo, nodes: list[dict]) -> str:
    """Store a hand-made tree (dirs carry "children", files "data") and a manifest for it.

    Used to build snapshots that a real backup never would, such as names with '..'.
    """
    import json
    import time

    from sharebackup.engine.pack import BLOB_DATA, BLOB_TREE
    from sharebackup.engine.packer import BlobWriter

    writer = BlobWriter(repo)
    base = {"mode": 0o755, "uid": os.getuid(), "gid": os.getgid(), "mtime_ns": 10**18, "ctime_ns": 0, "inode": 0}

    def save(children: list[dict]) -> bytes:
        out = []
        for spec in children:
            node = {**base, **{k: v for k, v in spec.items() if k not in ("children", "data")}}
            if node["type"] == "dir":
                node["subtree"] = save(spec.get("children", [])).hex()
            elif node["type"] == "file":
                data = spec.get("data", b"")
                node["content"] = [writer.store_blob(BLOB_DATA, data).hex()] if data else []
                node["size"] = len(data)
            out.append(node)
        return writer.store_blob(BLOB_TREE, json.dumps({"nodes": out}).encode())

    root = save(nodes)
    writer.flush()
    return repo.save_snapshot({"v": 1, "time": "2026-01-01T00:00:00Z", "time_ns": time.time_ns(), "hostname": "t",
                               "paths": ["/crafted"], "tree": root.hex(), "summary": {}, "warnings": [], "tags": []})


def flip_bit(path, position: int) -> None:
    with open(path, "r+b") as f:
        f.seek(position // 8)
        byte = f.read(1)[0]
        f.seek(position // 8)
        f.write(bytes([byte ^ (1 << (position % 8))]))


class CountingStore:
    """A repository's store, counting its reads (get calls)."""

    def __init__(self, store):
        self.store, self.gets = store, 0

    def get(self, *args, **kwargs):
        self.gets += 1
        return self.store.get(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.store, name)
