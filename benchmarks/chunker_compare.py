"""Compare the FastCDC implementations on PyPI: throughput, chunk-size spread, GIL release.

Candidates (from the PyPI package list): pyfastcdc (Cython), pith-cdc (Rust via ctypes),
fastcdc (Cython, FastCDC-2016). tilecdc needs AMX/AVX-512 and falls back to a slow
scalar path here. Missing packages are skipped. Run in a scratch venv:

    pip install pyfastcdc pith-cdc fastcdc && python benchmarks/chunker_compare.py [--mb 256]

"GIL kept" is the share of its solo speed a pure-Python counting thread keeps while
the chunker runs: near 0 means the chunker holds the GIL, near 1 that it releases it.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import threading
import time

AVG, MIN, MAX = 1 << 20, 256 << 10, 4 << 20


def cut_pyfastcdc(data):
    import pyfastcdc

    c = pyfastcdc.FastCDC(AVG, min_size=MIN, max_size=MAX)
    return [ch.length for ch in c.cut_buf(data)]


def cut_pith(data):
    import pith_cdc

    return [ch.length for ch in pith_cdc.chunk(data, MIN, AVG, MAX, level=pith_cdc.LEVEL_1)]


def cut_fastcdc(data):
    from fastcdc import fastcdc_cy

    return [ch.length for ch in fastcdc_cy.fastcdc_cy(data, MIN, AVG, MAX)]


CANDIDATES = {"pyfastcdc": cut_pyfastcdc, "pith-cdc": cut_pith, "fastcdc": cut_fastcdc}


def python_counter_rate(seconds: float, stop: threading.Event | None = None) -> float:
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end and not (stop and stop.is_set()):
        n += 1
    return n / seconds


def measure(name, fn, data, reps):
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        lengths = fn(data)
        times.append(time.perf_counter() - t)
    assert sum(lengths) == len(data)
    solo = python_counter_rate(0.5)
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("l", fn(data)))
    t = time.perf_counter()
    worker.start()
    counted, n = 0, 0
    while worker.is_alive():
        end = time.perf_counter() + 0.05
        while time.perf_counter() < end:
            n += 1
        counted += 0.05
    worker.join()
    kept = (n / max(time.perf_counter() - t, 1e-9)) / solo
    mb = len(data) / 1e6
    return {
        "library": name,
        "MB/s": round(mb / statistics.median(times)),
        "chunks": len(lengths),
        "mean KiB": round(statistics.mean(lengths) / 1024),
        "sd KiB": round(statistics.pstdev(lengths) / 1024),
        "GIL kept": round(kept, 2),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=256)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    rnd = random.Random(1)
    data = b"".join(rnd.randbytes(1 << 20) for _ in range(args.mb))
    print("| library | MB/s (median) | chunks | mean KiB | sd KiB | GIL kept |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, fn in CANDIDATES.items():
        try:
            r = measure(name, fn, data, args.reps)
        except ImportError:
            print(f"| {name} | not installed | | | | |")
            continue
        print(f"| {r['library']} | {r['MB/s']} | {r['chunks']} | {r['mean KiB']} | {r['sd KiB']} | {r['GIL kept']} |")
    print(f"\n(target avg {AVG >> 10} KiB, min {MIN >> 10} KiB, max {MAX >> 10} KiB; {args.mb} MiB random data; cpus {os.cpu_count()})")


if __name__ == "__main__":
    main()
