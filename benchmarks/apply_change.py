"""Apply a ~1% change to a tree made by make_share_tree.py: edits, appends, new files, deletions.

    python benchmarks/apply_change.py /tmp/bench/share [--seed 2]
"""

from __future__ import annotations

import argparse
import os
import random

from make_share_tree import TextMaker, tree_stats


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
        data = bytearray(open(p, "rb").read())
        pos = rnd.randrange(len(data))
        data[pos:pos + 40] = text.make(60)
        open(p, "wb").write(data)
        changed += 60
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("root")
    ap.add_argument("--seed", type=int, default=2)
    args = ap.parse_args()
    print(apply_change(args.root, args.seed))


if __name__ == "__main__":
    main()
