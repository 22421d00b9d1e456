"""Benchmark our engine against restic and borg on the same tree, in one run.

Per repetition (tool order rotates between repetitions to spread host noise):
  1. reset the share to the pristine generated tree (rsync, not measured);
  2. full backup with each tool into a fresh repository;
  3. apply the ~1% change (apply_change.py), then an incremental backup with each tool;
  4. restore the latest snapshot of each tool into an empty directory.
Before every measured step the kernel's caches are dropped (`--cache drop`, the default as
root: sync; echo 3 > /proc/sys/vm/drop_caches, dentries and inodes included), or without root
the tree's and the repositories' pages are evicted (`--cache fadvise`: sync +
POSIX_FADV_DONTNEED, which hides metadata costs), so every tool starts from the same state. Measured per step: wall time, user+sys
CPU and peak RSS of the tool's process (wait4), and the repository size after the
incremental backup. Results: JSON, a Markdown table of medians with ratios, an SVG plot.

    python benchmarks/run_benchmark.py --work /tmp/sbbench [--scale 1.0] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from apply_change import apply_change  # noqa: E402
from cache import CacheDrop, evict  # noqa: E402,F401 - evict: for older callers
from make_share_tree import generate  # noqa: E402
from svg_plot import ratio_chart  # noqa: E402
from tools import TOOLS  # noqa: E402

TARGETS = {"full backup": 0.7, "incremental": 1.0, "restore": 0.8, "repo size": 1.0}


def run_child(cmd, env) -> dict:
    """Run and measure one child; rusage comes from wait4 on exactly that child."""
    start = time.monotonic()
    pid = os.posix_spawnp(cmd[0], cmd, env, file_actions=_redirects())
    _pid, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    out = open(_OUT).read()
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed ({code}): {open(_ERR).read()[-2000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "user": usage.ru_utime, "sys": usage.ru_stime,
            "rss_mb": usage.ru_maxrss / 1024, "stdout": out}


_OUT, _ERR = "/tmp/.sbbench-stdout", "/tmp/.sbbench-stderr"


def _redirects():
    return [(os.POSIX_SPAWN_OPEN, 1, _OUT, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
            (os.POSIX_SPAWN_OPEN, 2, _ERR, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)]


def spawn(cmd, env, cwd=None):
    if cwd:  # posix_spawn has no chdir action before Python 3.13
        cmd = ["env", "-C", cwd] + cmd
    return run_child(cmd, env)


def du(path: str) -> int:
    return sum(os.lstat(os.path.join(d, f)).st_size for d, _, fs in os.walk(path) for f in fs)


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
            print(json.dumps({"change": apply_change(share, seed=100 + rep)}), flush=True)
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
        shutil.rmtree(target, ignore_errors=True)
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
    return "\n".join(lines), ratios


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--tools", default="sharebackup,restic,borg")
    ap.add_argument("--cache", choices=["drop", "fadvise"], default=None,
                    help="drop: sync; echo 3 > /proc/sys/vm/drop_caches before each step (the reference; the "
                         "default as root); fadvise: evict the tree's and repositories' pages only")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = ap.parse_args()
    names = args.tools.split(",")
    args.drop = CacheDrop(args.cache)
    pristine, share = os.path.join(args.work, "pristine"), os.path.join(args.work, "share")
    if not os.path.isdir(pristine):
        print(json.dumps({"generated": generate(pristine, args.scale, seed=1)}), flush=True)
    os.makedirs(share, exist_ok=True)
    results: list = []
    for rep in range(args.reps):
        one_rep(rep, args, pristine, share, names, results)
    table, ratios = summarise(results, names)
    os.makedirs(args.out, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(args.out, f"results-{stamp}.json"), "w") as f:
        json.dump({"scale": args.scale, "reps": args.reps, "results": results}, f, indent=1)
    metrics = ["full backup", "incremental", "restore", "repo size"]
    svg = ratio_chart(metrics, names, ratios, "Median ratio to restic (lower is better)", TARGETS)
    with open(os.path.join(args.out, "benchmark-ratios.svg"), "w") as f:
        f.write(svg)
    with open(os.path.join(args.out, f"table-{stamp}.md"), "w") as f:
        f.write(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
