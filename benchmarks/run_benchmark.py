"""Benchmark our engine against restic and borg (and the tar + zstd -3 floor) on the same tree, in one run.

Trees (generated once into <work>/pristine-scale<S> or <work>/pristine-million<N>, then reused):
  * `--tree share` (default): make_share_tree.py at `--scale`, changed by apply_change();
  * `--tree million`: make_million_tree.py, `--files` small files (default 1,000,000),
    changed by apply_million_change() (1% of the files edited, appended to, added, deleted).

Per repetition (tool order rotates between repetitions to spread host noise):
  1. reset the share to the pristine generated tree (rsync, not measured);
  2. full backup with each tool into a fresh repository;
  3. apply the ~1% change (apply_change.py), then an incremental backup with each tool;
  4. restore the latest snapshot of each tool into an empty directory; ours is then compared
     with the share entry by entry (compare_trees.py, untimed), and a difference stops the run.
Before every measured step the kernel's caches are dropped (`--cache drop`, the default as
root: sync; echo 3 > /proc/sys/vm/drop_caches, dentries and inodes included), or without root
the tree's and the repositories' pages are evicted (`--cache fadvise`: sync +
POSIX_FADV_DONTNEED, which hides metadata costs), so every tool starts from the same state.
Measured per step: wall time, user+sys CPU and peak RSS of the tool's process (wait4: it
covers the waited-for descendants too, so the CPU of a pipeline is its processes' sum and its
peak RSS the largest of theirs), and the repository size after the incremental backup.
Results: JSON, a Markdown table of medians with ratios, an SVG plot.

Tool "tar" (tools.py) is GNU tar piped into zstd -3: the floor for backup and restore. Once
per run, after a cache drop, the restore's disk floor is measured too: writing as many bytes
as the pristine tree holds into one new file (1 MiB os.write calls of incompressible bytes
prepared beforehand), once leaving the dirty pages to the kernel as a restore does, once with
a final fsync (rows "disk write" / "floor", shown under the restore rows).

    python benchmarks/run_benchmark.py --work /tmp/sbbench [--scale 1.0] [--reps 3]
    python benchmarks/run_benchmark.py --work /tmp/sbbench --tree million --tools sharebackup,restic,tar
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from apply_change import apply_change, apply_million_change  # noqa: E402
from compare_trees import differences  # noqa: E402
from cache import CacheDrop, evict  # noqa: E402,F401 - evict: for older callers
from make_million_tree import generate_million  # noqa: E402
from make_share_tree import generate  # noqa: E402
from svg_plot import ratio_chart  # noqa: E402
from tools import TOOLS  # noqa: E402

TARGETS = {"full backup": 0.7, "incremental": 1.0, "restore": 0.8, "repo size": 1.0}


def run_child(cmd, env) -> dict:
    """Run and measure one child; rusage comes from wait4 on exactly that child."""
    reset_peak_rss()
    start = time.monotonic()
    pid = os.posix_spawnp(cmd[0], cmd, env, file_actions=_redirects())
    _pid, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    with open(_OUT) as f:
        out = f.read()
    if code != 0:
        with open(_ERR) as f:
            raise RuntimeError(f"{' '.join(cmd[:3])} failed ({code}): {f.read()[-2000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "user": usage.ru_utime, "sys": usage.ru_stime,
            "rss_mb": usage.ru_maxrss / 1024, "stdout": out}


def reset_peak_rss() -> None:
    """Reset this process's peak RSS to its current RSS (Linux >= 4.0).

    posix_spawn's child shares our address space until it execs, and exec records that address
    space's high-water mark as the child's ru_maxrss: without the reset, every tool's "peak RSS"
    would be at least this process's own peak, e.g. while it generated or changed the tree."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


# per process: two benchmark runs at once must not write into each other's files
_OUT, _ERR = f"/tmp/.sbbench-stdout-{os.getpid()}", f"/tmp/.sbbench-stderr-{os.getpid()}"


def _redirects():
    return [(os.POSIX_SPAWN_OPEN, 1, _OUT, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
            (os.POSIX_SPAWN_OPEN, 2, _ERR, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)]


def spawn(cmd, env, cwd=None):
    if cwd:  # posix_spawn has no chdir action before Python 3.13
        cmd = ["env", "-C", cwd] + cmd
    return run_child(cmd, env)


def du(path: str) -> int:
    return sum(os.lstat(os.path.join(d, f)).st_size for d, _, fs in os.walk(path) for f in fs)


def write_one_file(path: str, nbytes: int, bufs: list, fsync: bool) -> dict:
    """Write nbytes into one new file, 1 MiB per os.write, optionally fsync'ed: a restore's disk floor."""
    t0, c0 = time.monotonic(), os.times()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        left, i = nbytes, 0
        while left > 0:
            buf = bufs[i % len(bufs)]
            left -= os.write(fd, buf if left >= len(buf) else buf[:left])
            i += 1
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    wall, c1 = time.monotonic() - t0, os.times()
    return {"wall": wall, "user": c1.user - c0.user, "sys": c1.system - c0.system,
            "cpu": c1.user - c0.user + c1.system - c0.system, "rss_mb": 0}


def disk_floor(args, nbytes: int, results: list) -> None:
    """Once per run: time writing the pristine tree's byte count into one file, without and with fsync."""
    bufs = [memoryview(random.Random(i).randbytes(1 << 20)) for i in range(16)]  # incompressible, made beforehand
    path = os.path.join(args.work, "disk-write-floor.bin")
    for fsync in (False, True):
        if os.path.exists(path):
            os.unlink(path)
        args.drop()  # sync (and drop_caches when it can): no dirty pages left from before
        m = write_one_file(path, nbytes, bufs, fsync)
        os.unlink(path)
        row = {"rep": None, "tool": "floor", "step": "disk write", "fsync": fsync, "bytes": nbytes,
               **{k: round(m[k], 3) for k in ("wall", "cpu", "user", "sys")}, "rss_mb": 0}
        results.append(row)
        print(json.dumps(row), flush=True)
    args.drop()


def one_rep(rep: int, args, pristine: str, share: str, names: list[str], results: list) -> None:
    subprocess.run(["rsync", "-a", "--delete", pristine + "/", share + "/"], check=True)
    order = names[rep % len(names):] + names[:rep % len(names)]
    work = os.path.join(args.work, f"rep{rep}")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    tools = {n: TOOLS[n](work) for n in order}
    for t in tools.values():
        for cmd in t.init():
            spawn(cmd, t.env)

    def record(tool, step, m, extra=None):
        row = {"rep": rep, "tool": tool, "step": step, "wall": round(m["wall"], 3), "cpu": round(m["cpu"], 3),
               "user": round(m.get("user", 0), 3), "sys": round(m.get("sys", 0), 3),
               "rss_mb": round(m["rss_mb"], 1), **(extra or {})}
        results.append(row)
        print(json.dumps(row), flush=True)

    for step, incremental in (("full backup", False), ("incremental", True)):
        if incremental:
            change = apply_million_change if args.tree == "million" else apply_change
            print(json.dumps({"change": change(share, seed=100 + rep)}), flush=True)
        for name in order:
            t = tools[name]
            args.drop(share, t.repo)
            m = spawn(t.backup(share, incremental), t.env)
            t.after_backup(m["stdout"])
            record(name, step, m)
    for name in order:
        record(name, "repo size", {"wall": 0, "cpu": 0, "rss_mb": 0}, {"bytes": du(tools[name].repo)})
    for name in order:
        t = tools[name]
        target = os.path.join(work, f"restore-{name}")
        shutil.rmtree(target, ignore_errors=True)
        args.drop(t.repo)
        cmd, cwd = t.restore(target)
        record(name, "restore", spawn(cmd, t.env, cwd))
        if name == "sharebackup":  # a fast wrong restore is no result: ours is checked, untimed
            problems, _ = differences(share, target)
            if problems:
                raise RuntimeError(f"rep {rep}: our restore differs from the share: {problems[:5]}")
    # The restored trees go only now: deleting 20,000+ inodes right before the next tool's
    # restore charged that tool for it (ext4 without a journal skips recently freed inodes
    # one by one when it allocates; discard and the VM's page reporting add more).
    shutil.rmtree(work, ignore_errors=True)


def summarise(results: list, names: list[str]) -> tuple[str, dict]:
    steps = ["full backup", "incremental", "restore", "repo size"]
    med = {}
    for step in steps:
        for name in names:
            rows = [r for r in results if r["tool"] == name and r["step"] == step]
            if not rows:
                continue
            key = "bytes" if step == "repo size" else "wall"
            med[(step, name)] = {k: statistics.median(r.get(k, 0) for r in rows)
                                 for k in (key, "cpu", "user", "sys", "rss_mb")}
            med[(step, name)]["n"] = len(rows)
    lines = ["| step | tool | median wall s (or size MB) | user s | sys s | peak RSS MB | vs restic | vs borg |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    ratios = {s: {} for s in steps}
    for step in steps:
        key = "bytes" if step == "repo size" else "wall"
        for name in names:
            m = med.get((step, name))
            if not m:
                continue
            val = m[key] / 1e6 if key == "bytes" else m[key]
            vs = {}
            for ref in ("restic", "borg"):
                r = med.get((step, ref))
                vs[ref] = m[key] / r[key] if r and r[key] else None
            ratios[step][name] = vs["restic"]
            fmt = lambda v: f"{v:.2f}" if v is not None else "-"  # noqa: E731
            cpu = f"{m['user']:.1f} | {m['sys']:.1f}" if step != "repo size" else " | "
            rss = f"{m['rss_mb']:.0f}" if step != "repo size" else ""
            lines.append(f"| {step} | {name} | {val:.1f} | {cpu} | {rss} | {fmt(vs['restic'])} | {fmt(vs['borg'])} |")
        if step == "restore":
            for r in (r for r in results if r["step"] == "disk write"):
                what = f"restore floor: write {r['bytes'] / 1e9:.2f} GB to one file{' + fsync' if r['fsync'] else ''}"
                lines.append(f"| {what} | floor | {r['wall']:.2f} | {r['user']:.2f} | {r['sys']:.2f} |  | - | - |")
    if "tar" in names:
        lines.append("\ntar = GNU tar piped into zstd -3 -T0 (no encryption, no deduplication): the floor; "
                     "its peak RSS is the largest of tar's and zstd's.")
    return "\n".join(lines), ratios


def pristine_tree(args) -> tuple[str, dict]:
    """The generated tree of this kind and size, made once and reused; its .json marks it complete.
    Named as compare_revisions.py names the share tree, so the two can share a work directory."""
    name = f"pristine-million{args.files}" if args.tree == "million" else f"pristine-scale{args.scale:g}"
    root = os.path.join(args.work, name)
    marker = root + ".json"
    if os.path.isdir(root) and os.path.exists(marker):
        with open(marker) as f:
            return root, json.load(f)
    shutil.rmtree(root, ignore_errors=True)  # an interrupted generation is not reused
    stats = (generate_million(root, args.files, seed=1) if args.tree == "million"
             else generate(root, args.scale, seed=1))
    with open(marker, "w") as f:
        json.dump(stats, f)
    print(json.dumps({"generated": root, **stats}), flush=True)
    return root, stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True)
    ap.add_argument("--tree", choices=["share", "million"], default="share",
                    help="share: make_share_tree.py at --scale; million: --files small files (make_million_tree.py)")
    ap.add_argument("--scale", type=float, default=1.0, help="--tree share: its scale (1.0: about 1.5 GB)")
    ap.add_argument("--files", type=int, default=1_000_000, help="--tree million: how many files")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--tools", default="sharebackup,restic,borg")
    ap.add_argument("--cache", choices=["drop", "fadvise"], default=None,
                    help="drop: sync; echo 3 > /proc/sys/vm/drop_caches before each step (the reference; the "
                         "default as root); fadvise: evict the tree's and repositories' pages only")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = ap.parse_args()
    names = args.tools.split(",")
    args.drop = CacheDrop(args.cache)
    pristine, stats = pristine_tree(args)
    share = os.path.join(args.work, "share")
    os.makedirs(share, exist_ok=True)
    results: list = []
    try:
        disk_floor(args, stats["bytes"], results)
        for rep in range(args.reps):
            one_rep(rep, args, pristine, share, names, results)
    finally:
        for f in (_OUT, _ERR):
            if os.path.exists(f):
                os.unlink(f)
    table, ratios = summarise(results, names)
    os.makedirs(args.out, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(args.out, f"results-{stamp}.json"), "w") as f:
        json.dump({"tree": args.tree, "scale": args.scale, "files": args.files, "tree_stats": stats,
                   "reps": args.reps, "results": results}, f, indent=1)
    metrics = ["full backup", "incremental", "restore", "repo size"]
    svg = ratio_chart(metrics, names, ratios, "Median ratio to restic (lower is better)", TARGETS)
    with open(os.path.join(args.out, "benchmark-ratios.svg"), "w") as f:
        f.write(svg)
    with open(os.path.join(args.out, f"table-{stamp}.md"), "w") as f:
        f.write(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
