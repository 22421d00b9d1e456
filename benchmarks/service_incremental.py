"""The service's incremental backup of an unchanged share: from POST /v2/share-backups until the
API shows the backup (and the share) available again. Run by hand, never by the test suite.

What it does:
  * generates (once, kept in --work) a share of ``--dirs`` x ``--files`` small text-like files
    (default 100 x 200 = 20,000 files of 100 B-16 KiB);
  * starts ``sharebackup serve`` on the embedded default (SQLite, local repository, the
    in-process worker) with tokens auth and no quotas, adopts the tree with
    POST /v2/shares/manage, makes one full backup;
  * then ``--runs`` backups of the unchanged share, one after the other, each timed from the
    POST until both the backup and the share are available, polled every ``--poll`` seconds
    (20 ms); ``--cache drop`` (as root) drops the kernel's caches before each of them, as
    run_benchmark.py does; ``--cache warm`` leaves them (the long-lived worker's usual case).

Reported: every time, the median, min and max, as JSON and one line of text.

    .venv/bin/python benchmarks/service_incremental.py --work /tmp/sbsvc [--runs 7] [--cache warm|drop]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from cache import CacheDrop  # noqa: E402
from make_share_tree import TextMaker  # noqa: E402
from scale_benchmark import Api, wait_until  # noqa: E402
from tests.integration.server_process import ServerProcess  # noqa: E402


def make_share(root: Path, dirs: int, files: int, seed: int = 7) -> None:
    if (root / ".complete").exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    rnd, text = random.Random(seed), TextMaker(seed)
    buffer = text.make(4 << 20)
    for d in range(dirs):
        sub = root / f"dir{d:03d}"
        sub.mkdir(parents=True)
        for f in range(files):
            size = rnd.randint(100, 16 * 1024)
            start = rnd.randrange(len(buffer) - size)
            (sub / f"file{f:04d}.txt").write_bytes(buffer[start:start + size])
    (root / ".complete").write_text("")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/sbsvc"))
    ap.add_argument("--dirs", type=int, default=100)
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--poll", type=float, default=0.02)
    ap.add_argument("--cache", choices=["warm", "drop"], default="warm")
    args = ap.parse_args()
    share = args.work / f"share-{args.dirs}x{args.files}"
    make_share(share, args.dirs, args.files)
    run_dir = args.work / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    drop = CacheDrop("drop") if args.cache == "drop" else None
    env = {"SHAREBACKUP_QUOTA__BACKUPS": "-1", "SHAREBACKUP_QUOTA__SHARES": "-1",
           "SHAREBACKUP_QUOTA__BACKUP_GIGABYTES": "-1", "SHAREBACKUP_QUOTA__GIGABYTES": "-1",
           "SHAREBACKUP_MANAGE_ALLOWED_ROOTS": str(args.work)}
    server = ServerProcess(run_dir / "state", auth="tokens", env=env)
    try:
        server.start()
        api = Api(server.port, server.admin_token)
        share_id = api.ok("POST", "/v2/shares/manage", {"share": {
            "export_path": str(share), "service_host": "bench@local#local", "protocol": "NFS",
            "name": "bench"}})["share"]["id"]
        wait_until(lambda: api.ok("GET", f"/v2/shares/{share_id}")["share"]["status"] == "available",
                   120, 0.2, "the managed share")

        def backup(name: str) -> float:
            start = time.perf_counter()
            backup_id = api.ok("POST", "/v2/share-backups", {"share_backup": {
                "share_id": share_id, "name": name}})["share_backup"]["id"]

            def done() -> bool:
                status = api.ok("GET", f"/v2/share-backups/{backup_id}")["share_backup"]["status"]
                if status == "error":
                    raise RuntimeError(f"backup {name} failed; see {server.stderr_path}")
                return status == "available" and \
                    api.ok("GET", f"/v2/shares/{share_id}")["share"]["status"] == "available"

            wait_until(done, 600, args.poll, f"backup {name}")
            return time.perf_counter() - start

        full = backup("full")
        times = []
        for i in range(args.runs):
            if drop is not None:
                drop(str(share))
            times.append(backup(f"incremental-{i}"))
        result = {"files": args.dirs * args.files, "cache": args.cache, "full_s": round(full, 3),
                  "incremental_s": [round(t, 3) for t in times], "median_s": round(statistics.median(times), 3),
                  "min_s": round(min(times), 3), "max_s": round(max(times), 3)}
        print(json.dumps(result))
        print(f"unchanged {result['files']}-file share, cache {args.cache}: POST -> available median "
              f"{result['median_s']} s (min {result['min_s']}, max {result['max_s']}; full {result['full_s']} s)")
    finally:
        server.stop(check=False)
        shutil.rmtree(run_dir, ignore_errors=True)
        os.sync()


if __name__ == "__main__":
    main()
