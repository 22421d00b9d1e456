"""Our engine against itself: the working tree and, optionally, a base revision, in one run.

Written for the by-fd change (backup and restore reach a share's files only through
directory fds, sharebackup/engine/safe_fs.py): its acceptance criterion is no regression
against the last by-path revision. `make bench` runs this; `make bench BASE=df3d0fd`
compares with the revision before the change.

Only the `sharebackup` tool of tools.py (`python -m sharebackup.cli.repo_commands repo ...`,
encrypted repository) on the tree of make_share_tree.py. A base revision is checked out with
`git worktree add --detach` under --work (removed at the end) and its CLI runs with
PYTHONPATH and the working directory set to that checkout, so it imports the old code; the
harness prints `sharebackup.__file__` of each side once to prove it.

Per repetition (the order of the revisions rotates between repetitions):
  1. reset the share to the pristine tree (rsync, not measured);
  2. full backup of each revision into a fresh repository;
  3. apply the ~1% change (apply_change.py), then an incremental backup (--parent) of each;
  4. restore each revision's incremental snapshot into an empty directory.
Before every measured step: `sync; echo 3 > /proc/sys/vm/drop_caches`, which also drops
dentries and inodes, the part a by-fd walker would pay more for. Without root (or when the
write fails) it falls back to run_benchmark.py's fadvise eviction and says loudly that the
walk and restore costs are then hidden. Measured: wall, user CPU, system CPU and peak RSS of
the CLI process. Medians go into a Markdown table; raw rows and the table into
benchmarks/results/fdpath-<stamp>.{json,md}. Everything else stays under --work.

    python benchmarks/compare_revisions.py --work var/bench [--base df3d0fd] [--scale 1.0] [--reps 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import run_benchmark  # noqa: E402
from apply_change import apply_change  # noqa: E402
from make_share_tree import generate, tree_stats  # noqa: E402
from cache import CacheDrop, banner  # noqa: E402
from run_benchmark import spawn  # noqa: E402
from tools import Sharebackup  # noqa: E402

STEPS = ("full backup", "incremental", "restore")
SEED = 1  # the tree of run_benchmark.py and docs/benchmarks.md


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO_ROOT, check=True, capture_output=True, text=True).stdout.strip()


class Side:
    """One revision under test: the source tree its CLI imports and how it is labelled."""

    def __init__(self, role: str, rev: str, work: str):
        self.role, self.rev = role, rev
        self.commit = git("rev-parse", "--verify", f"{rev}^{{commit}}")
        self.short = self.commit[:7]
        # --rev HEAD means the working tree as it is (the change under review may not be
        # committed yet); any other revision is a clean checkout of that commit
        self.worktree = not (role == "rev" and rev == "HEAD")
        if self.worktree:
            self.root = os.path.join(work, "checkouts", f"{role}-{self.short}")
            self.dirty: list[str] = []
            self.label = f"{self.short} ({role})"
        else:
            self.root = REPO_ROOT
            self.dirty = git("status", "--porcelain", "--", "sharebackup").splitlines()
            self.label = f"{self.short} (working tree)"
        self.sharebackup_file = ""
        self.has_safe_fs = False

    def checkout(self) -> None:
        if not self.worktree:
            return
        self.remove()  # a run that was killed may have left it behind
        os.makedirs(os.path.dirname(self.root), exist_ok=True)
        git("worktree", "add", "--detach", self.root, self.commit)

    def remove(self) -> None:
        if self.worktree and os.path.exists(self.root):
            subprocess.run(["git", "worktree", "remove", "--force", self.root], cwd=REPO_ROOT,
                           capture_output=True)
            shutil.rmtree(self.root, ignore_errors=True)
            git("worktree", "prune")
        try:
            os.rmdir(os.path.dirname(self.root))  # checkouts/, once the last one is gone
        except OSError:
            pass

    def env(self, base_env: dict) -> dict:
        env = dict(base_env)
        # PYTHONPATH and (in spawn_in) the working directory both name this checkout: with
        # -m, sys.path[0] is the working directory and comes before PYTHONPATH, and both
        # come before the editable install's finder, which would load the working tree
        env["PYTHONPATH"] = self.root
        return env

    def prepare(self) -> None:
        """Compile the checkout's bytecode and prove which code the CLI imports.

        A fresh checkout has no __pycache__: without this the base's first measured step
        would also pay for compiling every module it imports.
        """
        subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.join(self.root, "sharebackup")],
                       check=True, stdout=subprocess.DEVNULL)
        probe = ("import importlib.util, sharebackup, sharebackup.cli.repo_commands as c; "
                 "print(sharebackup.__file__); print(c.__file__); "
                 "print(importlib.util.find_spec('sharebackup.engine.safe_fs') is not None)")
        out = spawn([sys.executable, "-c", probe], self.env(os.environ), cwd=self.root)["stdout"].split("\n")
        self.sharebackup_file, cli_file, self.has_safe_fs = out[0], out[1], out[2] == "True"
        print(f"{self.label}: sharebackup.__file__ = {self.sharebackup_file} "
              f"(engine/safe_fs.py {'present' if self.has_safe_fs else 'absent'})", flush=True)
        for f in (self.sharebackup_file, cli_file):
            if not f.startswith(os.path.join(self.root, "")):
                raise SystemExit(f"{self.label} imports {f}, not the code under {self.root}")

    def describe(self) -> dict:
        return {"role": self.role, "rev": self.rev, "commit": self.commit, "label": self.label,
                "root": self.root, "sharebackup_file": self.sharebackup_file, "has_safe_fs": self.has_safe_fs,
                "uncommitted_in_sharebackup": self.dirty}


def source_digest(root: str) -> str:
    """Digest of the checkout's Python sources, to notice edits made while we measure."""
    h = hashlib.sha256()
    base = os.path.join(root, "sharebackup")
    for d, dirs, files in os.walk(base):
        dirs.sort()
        for f in sorted(files):
            if f.endswith(".py"):
                p = os.path.join(d, f)
                h.update(os.path.relpath(p, base).encode() + b"\0")
                with open(p, "rb") as fh:
                    h.update(fh.read())
    return h.hexdigest()


def measure(cmd: list[str], env: dict, cwd: str) -> dict:
    """run_benchmark.spawn (wall, peak RSS from wait4), with user and system CPU apart.

    spawn reports user+sys together; the question here is whether system time grows. Our
    RUSAGE_CHILDREN grows by exactly what wait4 returned for the one child spawn reaps, so
    the difference around the call splits it (checked against spawn's sum).
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    m = spawn(cmd, env, cwd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    user, sys_ = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    if abs(user + sys_ - m["cpu"]) > 0.01:
        raise RuntimeError(f"CPU split {user:.3f}+{sys_:.3f} does not match wait4's {m['cpu']:.3f}")
    return {**m, "user": user, "sys": sys_}


def pristine_tree(work: str, scale: float) -> tuple[str, dict]:
    """The generated tree for this scale, made once and reused; its .json marks it complete."""
    root = os.path.join(work, f"pristine-scale{scale:g}")
    marker = root + ".json"
    if os.path.isdir(root) and os.path.exists(marker):
        with open(marker) as f:
            stats = json.load(f)
        print(json.dumps({"reused pristine": root, **stats}), flush=True)
        return root, stats
    shutil.rmtree(root, ignore_errors=True)  # an interrupted generation is not reused
    stats = generate(root, scale, seed=SEED)
    with open(marker, "w") as f:
        json.dump(stats, f)
    print(json.dumps({"generated": root, **stats}), flush=True)
    return root, stats


def one_rep(rep: int, sides: list[Side], pristine: str, share: str, work: str, drop: CacheDrop,
            rows: list, changes: list) -> None:
    subprocess.run(["rsync", "-a", "--delete", pristine + "/", share + "/"], check=True)
    order = sides[rep % len(sides):] + sides[:rep % len(sides)]
    rep_dir = os.path.join(work, f"rep{rep}")
    shutil.rmtree(rep_dir, ignore_errors=True)
    tools = {}
    for side in order:
        os.makedirs(os.path.join(rep_dir, side.role))
        tool = Sharebackup(os.path.join(rep_dir, side.role))  # writes its key file there
        tool.pass_parent = True  # a base revision's CLI may not find the parent snapshot itself
        tool.env = side.env(tool.env)
        for cmd in tool.init():
            spawn(cmd, tool.env, cwd=side.root)
        tools[side.role] = tool

    def step(name: str, side: Side, cmd: list[str], *evict_paths: str) -> dict:
        tool = tools[side.role]
        drop(*evict_paths)
        load = os.getloadavg()[0]  # the host is shared: keep what else was running with each row
        m = measure(cmd, tool.env, side.root)
        row = {"rep": rep, "position": order.index(side), "role": side.role, "revision": side.label,
               "step": name, "wall": round(m["wall"], 3), "user": round(m["user"], 3), "sys": round(m["sys"], 3),
               "rss_mb": round(m["rss_mb"], 1), "load1": round(load, 2)}
        rows.append(row)
        print(json.dumps(row), flush=True)
        return m

    for name, incremental in (("full backup", False), ("incremental", True)):
        if incremental:
            change = apply_change(share, seed=100 + rep)
            changes.append(change)
            print(json.dumps({"change": change}), flush=True)
        for side in order:
            tool = tools[side.role]
            m = step(name, side, tool.backup(share, incremental), share, tool.repo)
            tool.after_backup(m["stdout"])
    expected = tree_stats(share)
    for side in order:
        tool = tools[side.role]
        target = os.path.join(rep_dir, f"restore-{side.role}")
        os.makedirs(target)
        cmd, _cwd = tool.restore(target)
        step("restore", side, cmd, tool.repo)
        # a restore that silently dropped entries would look fast: compare counts and bytes
        got = tree_stats(target)
        if got != expected:
            raise RuntimeError(f"{side.label}: restored tree {got} differs from the share {expected}")
        shutil.rmtree(target)
    shutil.rmtree(rep_dir, ignore_errors=True)


def summarise(rows: list, sides: list[Side]) -> str:
    base = next((s for s in sides if s.role == "base"), None)
    lines = ["| step | revision | median wall s | user s | sys s | RSS MB | ratio to base (wall) |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for name in STEPS:
        med = {}
        for side in sides:
            sel = [r for r in rows if r["step"] == name and r["role"] == side.role]
            if sel:
                med[side.role] = {k: statistics.median(r[k] for r in sel) for k in ("wall", "user", "sys", "rss_mb")}
        for side in sides:
            m = med.get(side.role)
            if not m:
                continue
            b = med.get(base.role) if base else None
            ratio = f"{m['wall'] / b['wall']:.2f}" if b and b["wall"] else "-"
            lines.append(f"| {name} | {side.label} | {m['wall']:.2f} | {m['user']:.2f} | {m['sys']:.2f} "
                         f"| {m['rss_mb']:.0f} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=os.path.join(REPO_ROOT, "var", "bench"))
    ap.add_argument("--rev", default="HEAD", help="HEAD = the working tree as it is; else a checkout of REV")
    ap.add_argument("--base", help="a git revision to compare with (checked out as a worktree under --work)")
    ap.add_argument("--scale", type=float, default=1.0, help="tree size; 1.0 is about 1.45 GB")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    # run_child sends the child's stdout and stderr to fixed files in /tmp; keep them
    # under --work (and apart from a run_benchmark.py running at the same time)
    run_benchmark._OUT = os.path.join(work, "child.stdout")
    run_benchmark._ERR = os.path.join(work, "child.stderr")

    sides = ([Side("base", args.base, work)] if args.base else []) + [Side("rev", args.rev, work)]
    if len({s.root for s in sides}) != len(sides):
        raise SystemExit("--rev and --base name the same checkout")
    drop = CacheDrop()
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    rows: list = []
    changes: list = []
    try:
        for side in sides:
            side.checkout()
            side.prepare()
        digests = {s.role: source_digest(s.root) for s in sides}
        pristine, tree = pristine_tree(work, args.scale)
        share = os.path.join(work, "share")
        os.makedirs(share, exist_ok=True)
        for rep in range(args.reps):
            one_rep(rep, sides, pristine, share, work, drop, rows, changes)
        # other people edit the working tree; a side whose code changed mid-run measured two versions
        edited = [s.label for s in sides if source_digest(s.root) != digests[s.role]]
    finally:
        for side in sides:
            side.remove()

    table = summarise(rows, sides)
    notes = [f"Run of {started} to {time.strftime('%H:%M:%S')}, scale {args.scale:g} "
             f"({tree['files']} files, {tree['bytes'] / 1e6:.0f} MB), {args.reps} repetition(s), "
             f"caches: {drop.method}, {os.cpu_count()} CPUs."]
    for s in sides:
        extra = f", {len(s.dirty)} uncommitted change(s) under sharebackup/" if s.dirty else ""
        notes.append(f"{s.label}: {s.commit}, imports {s.sharebackup_file}, "
                     f"safe_fs {'present' if s.has_safe_fs else 'absent'}{extra}.")
    if edited:
        notes.append(f"WARNING: the sources of {', '.join(edited)} changed during the run.")
    if drop.warning:
        notes.append(drop.warning)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, f"fdpath-{stamp}.json"), "w") as f:
        json.dump({"started": started, "scale": args.scale, "reps": args.reps, "seed": SEED, "tree": tree,
                   "changes": changes, "cache_drop": drop.method, "cpus": os.cpu_count(),
                   "sides": [s.describe() for s in sides], "sources_edited_during_run": edited,
                   "rows": rows}, f, indent=1)
    with open(os.path.join(args.out, f"fdpath-{stamp}.md"), "w") as f:
        f.write(table + "\n\n" + "\n\n".join(notes) + "\n")
    print(table)
    print("\n".join(notes))
    if drop.warning or edited:
        banner("\n".join(n for n in notes if n.startswith("WARNING")))


if __name__ == "__main__":
    main()
