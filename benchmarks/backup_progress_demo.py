"""Watch a share backup's `progress` move: a demo run by hand (not a test).

Starts `sharebackup serve` (tokens auth, fresh state directory), creates a 2 GiB share, fills
its directory with about 1 GB of mixed data (large random and large compressible files, a few
thousand small files), starts a backup and polls `GET /v2/share-backups/detail` every 0.5 s,
printing each distinct `progress` value (with the time since the create) until the backup is
available; then does the same for `restore_progress` during a restore into the same share.

    .venv/bin/python benchmarks/backup_progress_demo.py [--size-mb 1024] [--workdir DIR]

The results of a run are recorded in docs/benchmarks-progress.md.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.server_process import ServerProcess  # noqa: E402

VERSION = "2.91"
POLL = 0.5


class Api:
    def __init__(self, endpoint: str, token: str):
        self.endpoint, self.token = endpoint, token

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.endpoint + path, data=data, method=method, headers={
            "X-Auth-Token": self.token, "Accept": "application/json", "Content-Type": "application/json",
            "X-OpenStack-Manila-API-Version": VERSION, "X-OpenStack-Manila-API-Experimental": "True"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def ok(self, method: str, path: str, body: dict | None = None) -> dict:
        status, answer = self.call(method, path, body)
        if status >= 300:
            raise SystemExit(f"{method} {path} -> {status} {answer}")
        return answer


def fill(root: Path, total_mb: int) -> tuple[int, int]:
    """About `total_mb` MB: 45% large random files, 45% large compressible (text-like) files,
    10% small files (4-16 KiB) in nested directories. Returns (files, bytes)."""
    mb = 1 << 20
    files = written = 0
    big = max(1, total_mb * 45 // 100 // 150)          # files of ~150 MB each
    each = total_mb * 45 // 100 // big
    (root / "random").mkdir()
    (root / "text").mkdir()
    line = b"".join(f"{i:06d} the quick brown fox jumps over the lazy dog {i * 7919 % 1000:03d}\n".encode()
                    for i in range(16384))                   # ~1 MiB of text-like, compressible data
    for n in range(big):
        with open(root / "random" / f"blob-{n}.bin", "wb") as f:
            for _ in range(each):
                f.write(os.urandom(mb))
        with open(root / "text" / f"log-{n}.txt", "wb") as f:
            for i in range(each):
                f.write(line[i % 97:] + line[:i % 97])
        files += 2
        written += 2 * each * mb
    small_total = total_mb * 10 // 100 * mb
    i = 0
    while written < (total_mb * mb) and small_total > 0:
        d = root / "small" / f"d{i // 500:03d}" / f"e{i // 50 % 10}"
        d.mkdir(parents=True, exist_ok=True)
        size = 4096 + (i * 2654435761) % 12288
        data = os.urandom(size // 2) + line[:size - size // 2]
        (d / f"f{i:06d}.dat").write_bytes(data)
        written += len(data)
        small_total -= len(data)
        files += 1
        i += 1
    return files, written


def watch(api: Api, backup_id: str, field: str, until: str, started: float) -> list[str]:
    """Poll the detail list every POLL s; print each new value of `field`; stop when the backup's
    status is `until` (after having left it, for the restore)."""
    seen: list[str] = []
    last = None
    while True:
        listed = api.ok("GET", "/share-backups/detail")["share_backups"]
        backup = next(b for b in listed if b["id"] == backup_id)
        value = (backup[field], backup["status"])
        if value != last:
            print(f"  t={time.monotonic() - started:6.1f}s  {field}={backup[field]!s:>4}  status={backup['status']}",
                  flush=True)
            seen.append(str(backup[field]))
            last = value
        if "error" in backup["status"]:
            raise SystemExit(f"backup went to {backup['status']}")
        if backup["status"] == until and (field == "progress" or len(seen) > 1 or backup[field] == "100"):
            return seen
        time.sleep(POLL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--workdir", help="where the server state goes (default: a new temporary dir)")
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="progress-demo-"))
    server = ServerProcess(work / "state", auth="tokens")
    server.start()
    try:
        token = server.create_token("demo", "dora", ("member",))
        api = Api(server.endpoint, token)
        share = api.ok("POST", "/shares", {"share": {"share_proto": "NFS", "size": 2, "name": "progress-demo"}})
        share_id = share["share"]["id"]
        while api.ok("GET", f"/shares/{share_id}")["share"]["status"] != "available":
            time.sleep(0.2)
        root = Path(api.ok("GET", f"/shares/{share_id}/export_locations")["export_locations"][0]["path"])
        t0 = time.monotonic()
        files, size = fill(root, args.size_mb)
        print(f"share {share_id}: {files} files, {size / 1e6:.0f} MB written in {time.monotonic() - t0:.1f}s "
              f"({os.cpu_count()} CPUs)", flush=True)

        started = time.monotonic()
        backup = api.ok("POST", "/share-backups", {"share_backup": {"share_id": share_id, "name": "demo"}})
        backup_id = backup["share_backup"]["id"]
        print(f"backup {backup_id} created; polling GET /v2/share-backups/detail every {POLL}s", flush=True)
        seen = watch(api, backup_id, "progress", "available", started)
        print(f"progress values seen: {' -> '.join(seen)}  ({time.monotonic() - started:.1f}s)", flush=True)

        while api.ok("GET", f"/shares/{share_id}")["share"]["status"] != "available":
            time.sleep(0.2)
        started = time.monotonic()
        api.ok("POST", f"/share-backups/{backup_id}/action", {"restore": None})
        print("restore requested (in place)", flush=True)
        seen = watch(api, backup_id, "restore_progress", "available", started)
        print(f"restore_progress values seen: {' -> '.join(seen)}  ({time.monotonic() - started:.1f}s)", flush=True)
    finally:
        server.stop(check=False)
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
