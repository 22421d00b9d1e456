"""Apply a ~1% change to a generated tree: edits, appends, new files, deletions.

apply_change() fits the share tree (make_share_tree.py); apply_million_change() fits the tree of
small files (make_million_tree.py), which has no medium or big files and is too large to stat
every file: 1% of its files are touched (0.5% edited, 0.1% appended to,
0.25% new, 0.15% deleted).

    python benchmarks/apply_change.py /tmp/bench/share [--seed 2] [--million]
"""

from __future__ import annotations

import argparse
import os
import random

from make_share_tree import TextMaker, tree_stats


def _edit_line(path: str, rnd, text) -> int:
    """Replace 40 bytes at a random place by 60 new ones; returns the bytes written."""
    with open(path, "rb") as f:
        data = bytearray(f.read())
    pos = rnd.randrange(len(data))
    data[pos:pos + 40] = text.make(60)
    with open(path, "wb") as f:
        f.write(data)
    return 60


def apply_change(root: str, seed: int) -> dict:
    rnd = random.Random(seed)
    text = TextMaker(seed)
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs
                   if not os.path.islink(os.path.join(d, f)))
    small = [p for p in files if 0 < os.path.getsize(p) < 1 << 20]
    medium = [p for p in files if 1 << 20 <= os.path.getsize(p) < 64 << 20]
    big = [p for p in files if os.path.getsize(p) >= 64 << 20]
    scale = max(len(small) / 20000, 0.05)
    changed = 0
    for p in rnd.sample(small, int(100 * scale)):  # edit a line in the middle
        changed += _edit_line(p, rnd, text)
    for p in rnd.sample(small, int(20 * scale)):  # append to logs
        with open(p, "ab") as f:
            f.write(text.make(64 * 1024))
        changed += 64 * 1024
    for p in rnd.sample(medium, min(len(medium), 2)):  # overwrite 4 KiB inside
        with open(p, "r+b") as f:
            f.seek(rnd.randrange(os.path.getsize(p) - 4096))
            f.write(rnd.randbytes(4096))
        changed += 4096
    for p in big[:1]:
        with open(p, "ab") as f:
            f.write(text.make(2 << 20))
        changed += 2 << 20
    dirs = sorted({os.path.dirname(p) for p in small})
    for i in range(int(300 * scale)):  # new small files
        data = text.make(rnd.randint(100, 40000))
        with open(os.path.join(rnd.choice(dirs), f"new{seed}-{i:04d}.txt"), "wb") as f:
            f.write(data)
        changed += len(data)
    for i in range(2):  # new medium files
        data = rnd.randbytes(rnd.randint(1 << 20, 4 << 20))
        with open(os.path.join(rnd.choice(dirs), f"newmedia{seed}-{i}.bin"), "wb") as f:
            f.write(data)
        changed += len(data)
    deleted = rnd.sample(small, int(150 * scale)) + rnd.sample(medium, 1)
    for p in deleted:
        if os.path.exists(p):
            os.unlink(p)
    stats = tree_stats(root)
    stats["changed_bytes"] = changed
    stats["deleted_files"] = len(deleted)
    return stats


def apply_million_change(root: str, seed: int) -> dict:
    """~1% of the files of a make_million_tree.py tree: names are listed, not stat'ed."""
    rnd = random.Random(seed)
    text = TextMaker(seed)
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)
    n = len(files)
    touched = rnd.sample(files, int(n * 0.0075))  # edited, appended to, deleted: distinct files
    n_edit, n_append = int(n * 0.005), int(n * 0.001)
    edited, appended, deleted = touched[:n_edit], touched[n_edit:n_edit + n_append], touched[n_edit + n_append:]
    changed = 0
    for p in edited:
        changed += _edit_line(p, rnd, text)
    for p in appended:
        data = text.make(rnd.randint(100, 2000))
        with open(p, "ab") as f:
            f.write(data)
        changed += len(data)
    dirs = sorted({os.path.dirname(p) for p in files})
    new = int(n * 0.0025)
    for i in range(new):
        data = text.make(rnd.randint(100, 4096))
        with open(os.path.join(rnd.choice(dirs), f"new{seed}-{i:06d}.txt"), "wb") as f:
            f.write(data)
        changed += len(data)
    for p in deleted:
        os.unlink(p)
    return {"files": n + new - len(deleted), "edited": len(edited), "appended": len(appended), "new": new,
            "deleted_files": len(deleted), "changed_bytes": changed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root")
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--million", action="store_true", help="the change for a make_million_tree.py tree")
    args = ap.parse_args()
    print((apply_million_change if args.million else apply_change)(args.root, args.seed))


if __name__ == "__main__":
    main()
