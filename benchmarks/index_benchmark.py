"""How fast a repository with a very large index opens, and how much memory its index takes:
issue 13 asks for 10,000,000 blobs opening in at most 5 s with at most 64 bytes of RSS a blob.

The repository is synthetic: index deltas (format 3, encrypted and compressed as real ones)
naming 10,000,000 random blob ids in 10,000 packs; no pack holds data, as opening reads only
the index. The open is measured in a fresh process (RSS before and after, from /proc), then a
million lookups of known and unknown ids.

    .venv/bin/python benchmarks/index_benchmark.py --work var/bench-index [--blobs 10000000]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

from sharebackup import engine
from sharebackup.engine.index_delta import COUNTS, INDEX_AAD, MAGIC, PACK, RECORD
from sharebackup.engine.pack import ALONE

PER_PACK = 1000
PER_DELTA = 100_000
PASSPHRASE = b"index benchmark passphrase"


def build(work: str, blobs: int) -> None:
    shutil.rmtree(work, ignore_errors=True)
    store = engine.open_store(work)
    engine.Repository.init(store, key=PASSPHRASE)
    repo = engine.Repository.open(store, key=PASSPHRASE)
    rng = np.random.default_rng(13)
    for first in range(0, blobs, PER_DELTA):
        count = min(PER_DELTA, blobs - first)
        packs = -(-count // PER_PACK)
        records = np.zeros(count, RECORD)
        ids = rng.integers(0, 256, size=(count, 32), dtype=np.uint8)
        records["key"] = ids[:, :8].copy().view(">u8").ravel()
        records["tail"] = ids[:, 8:].copy().view("V24").ravel()
        records["pack"] = np.arange(count) // PER_PACK
        records["type"] = 1
        records["offset"] = (np.arange(count) % PER_PACK) * 40_000
        records["length"] = 40_000
        records["plain"] = 65_536
        records["inner"] = ALONE
        records = records[np.argsort(records["key"], kind="stable")]  # as the engine writes them
        head = [MAGIC, COUNTS.pack(0, packs, count)]
        head += [PACK.pack(rng.bytes(32), 40_000 * PER_PACK) for _ in range(packs)]
        repo.write_file("index", INDEX_AAD, b"".join(head) + records.tobytes())


def _rss() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))


def measure(work: str) -> dict:
    """Run in a fresh process: the open's time and RSS, then lookups."""
    store = engine.open_store(work)
    before = _rss()
    started = time.perf_counter()
    repo = engine.Repository.open(store, key=PASSPHRASE)
    opened = time.perf_counter() - started
    after = _rss()
    blobs = len(repo.index.blobs)
    known = [bid for bid, _ in zip(repo.index.blobs.keys(), range(500_000))]
    unknown = [os.urandom(32) for _ in range(500_000)]
    started = time.perf_counter()
    hits = sum(1 for bid in known if bid in repo.index) + sum(1 for bid in unknown if bid in repo.index)
    lookups = time.perf_counter() - started
    return {"blobs": blobs, "open_seconds": round(opened, 2), "rss_growth_bytes": after - before,
            "rss_bytes_per_blob": round((after - before) / blobs, 1), "lookups": 1_000_000,
            "lookup_us": round(lookups / 1_000_000 * 1e6, 2), "hits": hits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="var/bench-index")
    parser.add_argument("--blobs", type=int, default=10_000_000)
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_only:
        print(json.dumps(measure(args.work)))
        return
    started = time.perf_counter()
    build(args.work, args.blobs)
    print(f"built {args.blobs:,} index entries in {time.perf_counter() - started:.1f} s")
    out = subprocess.run([sys.executable, __file__, "--work", args.work, "--measure-only"], capture_output=True,
                         text=True, check=True)
    result = json.loads(out.stdout)
    print(json.dumps(result, indent=1))
    print(f"cpus: {os.cpu_count()}")


if __name__ == "__main__":
    main()
