"""Generate a realistic file-share tree for the engine benchmark (deterministic by seed).

Default scale 1.0 gives about 1.5 GB:
  * ~20,000 small text-like files (100 B - 64 KiB, log-uniform) in ~800 nested dirs;
  * ~160 files of 1-8 MiB, 60% text-like, 40% incompressible (like photos or zips);
  * 4 files of 100 MiB, each half random and half text-like;
  * duplicates (20 medium and 500 small files copied elsewhere), 100 symlinks
    (some dangling), 200 empty files, 50 empty directories.
Text-like data is drawn from a pool of generated sentences, so it compresses like real
prose (zstd-3 about 2.5-3x) without being trivially deduplicable.

    python benchmarks/make_share_tree.py /tmp/bench/share [--scale 0.1] [--seed 1]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil

WORDS_SEED = 12345


def sentence_pool(rnd: random.Random, count: int = 65536) -> list[bytes]:
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    weights = [12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 4.0, 2.8, 2.8, 2.4, 2.4, 2.2, 2.0, 2.0, 1.9,
               1.5, 1.0, 0.8, 0.2, 0.2, 0.1, 0.1]
    vocab = ["".join(rnd.choices(letters, weights, k=rnd.randint(2, 10))) for _ in range(3000)]
    pool = []
    for _ in range(count):
        words = rnd.choices(vocab, k=rnd.randint(4, 14))
        line = " ".join(words).capitalize() + rnd.choice([".", ".", ",", ";", ":", " -", "!", "?"]) + "\n"
        if rnd.random() < 0.1:
            line = f"{rnd.randint(0, 99999):05d} " + line
        pool.append(line.encode())
    return pool


class TextMaker:
    def __init__(self, seed: int):
        self.rnd = random.Random(seed)
        self.pool = sentence_pool(random.Random(WORDS_SEED))

    def make(self, size: int) -> bytes:
        out = []
        n = 0
        idx = self.rnd.randbytes(2 * (size // 40 + 8))
        pool = self.pool
        for i in range(0, len(idx), 2):
            s = pool[idx[i] | (idx[i + 1] << 8)]
            out.append(s)
            n += len(s)
            if n >= size:
                break
        return b"".join(out)[:size]


def write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def generate(root: str, scale: float, seed: int) -> dict:
    rnd = random.Random(seed)
    text = TextMaker(seed)
    os.makedirs(root, exist_ok=True)
    n_dirs = max(10, int(800 * scale))
    dirs = [""]
    for i in range(n_dirs):
        parent = rnd.choice(dirs) if len(dirs) > 1 and dirs[-1].count("/") < 5 else ""
        dirs.append(f"{parent}/dir{i:04d}" if parent else f"dir{i:04d}")
    small = []
    for i in range(int(20000 * scale)):
        size = int(math.exp(rnd.uniform(math.log(100), math.log(64 * 1024))))
        ext = rnd.choice([".txt", ".md", ".csv", ".log", ".py", ".json", ".html"])
        path = os.path.join(root, rnd.choice(dirs), f"file{i:05d}{ext}")
        write(path, text.make(size))
        small.append(path)
    medium = []
    for i in range(int(160 * scale) or 4):
        size = rnd.randint(1 << 20, 8 << 20)
        data = text.make(size) if rnd.random() < 0.6 else rnd.randbytes(size)
        path = os.path.join(root, rnd.choice(dirs), f"media{i:03d}" + (".doc" if data[:1].isalpha() else ".bin"))
        write(path, data)
        medium.append(path)
    for i in range(max(1, int(4 * scale))):
        path = os.path.join(root, "big", f"image{i}.img")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            for _ in range(50):
                f.write(rnd.randbytes(1 << 20))
            for _ in range(50):
                f.write(text.make(1 << 20))
    for i, path in enumerate(rnd.sample(medium, min(len(medium), int(20 * scale) or 1))):
        shutil.copyfile(path, os.path.join(root, rnd.choice(dirs), f"copy-of-media{i:03d}"))
    for i, path in enumerate(rnd.sample(small, min(len(small), int(500 * scale)))):
        shutil.copyfile(path, os.path.join(root, rnd.choice(dirs), f"copy{i:04d}-" + os.path.basename(path)))
    for i in range(int(100 * scale) or 1):
        target = os.path.relpath(rnd.choice(small), root) if i % 5 else f"missing/target{i}"
        link = os.path.join(root, rnd.choice(dirs), f"link{i:03d}")
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(os.path.relpath(os.path.join(root, target), os.path.dirname(link)), link)
    for i in range(int(200 * scale) or 1):
        write(os.path.join(root, rnd.choice(dirs), f"empty{i:03d}"), b"")
    for i in range(int(50 * scale) or 1):
        os.makedirs(os.path.join(root, rnd.choice(dirs), f"emptydir{i:02d}"), exist_ok=True)
    return tree_stats(root)


def tree_stats(root: str) -> dict:
    files = size = links = dirs = 0
    for d, dirnames, filenames in os.walk(root):
        dirs += len(dirnames)
        for f in filenames:
            p = os.path.join(d, f)
            if os.path.islink(p):
                links += 1
            else:
                files += 1
                size += os.path.getsize(p)
    return {"files": files, "bytes": size, "dirs": dirs, "symlinks": links}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if os.path.exists(args.root):
        raise SystemExit(f"{args.root} exists; remove it first")
    print(generate(args.root, args.scale, args.seed))


if __name__ == "__main__":
    main()
