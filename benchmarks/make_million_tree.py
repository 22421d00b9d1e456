"""Generate a tree of many small files for the engine benchmark (deterministic by seed).

Default: 1,000,000 text-like files of 100 B - 4 KiB (log-uniform, about 1.1 GB in all), 1,000
files to a directory, in two levels: g00/d0000 ... g31/d0999 (32 directories per group).
The text is one 64 MiB buffer made once with make_share_tree's sentence pool; each file is a
slice of it at a random offset, so files compress like the share tree's prose while being
(almost) never identical. The buffer is much larger than zstd-3's window, so a tar stream of
neighbouring files is not unduly compressible. Files are written with os.open/os.write
relative to their directory's descriptor: 1M files take a minute or two, not hours.

    python benchmarks/make_million_tree.py /tmp/bench/million [--files 1000000] [--seed 1]
"""

from __future__ import annotations

import argparse
import math
import os
import random

from make_share_tree import TextMaker

FILES_PER_DIR = 1000
DIRS_PER_GROUP = 32
MIN_SIZE, MAX_SIZE = 100, 4096
BUFFER = 64 << 20
EXTS = (".txt", ".md", ".csv", ".log", ".py", ".json", ".html")


def text_buffer(seed: int, size: int = BUFFER) -> bytes:
    """`size` bytes of text-like data, made once (about a second for 64 MiB)."""
    maker = TextMaker(seed)
    return b"".join(maker.make(1 << 20) for _ in range(size >> 20))


def dir_name(i: int) -> str:
    return f"g{i // DIRS_PER_GROUP:02d}/d{i:04d}"


def generate_million(root: str, files: int = 1_000_000, seed: int = 1) -> dict:
    rnd = random.Random(seed)
    buf = memoryview(text_buffer(seed))
    lo, hi = math.log(MIN_SIZE), math.log(MAX_SIZE)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    total = 0
    n_dirs = -(-files // FILES_PER_DIR)
    for d in range(n_dirs):
        path = os.path.join(root, dir_name(d))
        os.makedirs(path)
        dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for j in range(d * FILES_PER_DIR, min(files, (d + 1) * FILES_PER_DIR)):
                size = int(math.exp(rnd.uniform(lo, hi)))
                off = rnd.randrange(len(buf) - size)
                fd = os.open(f"f{j:07d}{EXTS[j % len(EXTS)]}", flags, 0o644, dir_fd=dfd)
                try:
                    os.write(fd, buf[off:off + size])  # < 4 KiB to a regular file: never short
                finally:
                    os.close(fd)
                total += size
        finally:
            os.close(dfd)
    groups = -(-n_dirs // DIRS_PER_GROUP)
    return {"files": files, "bytes": total, "dirs": n_dirs + groups, "symlinks": 0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root")
    ap.add_argument("--files", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if os.path.exists(args.root):
        raise SystemExit(f"{args.root} exists; remove it first")
    print(generate_million(args.root, args.files, args.seed))


if __name__ == "__main__":
    main()
