"""Scale benchmark: backup throughput of 1, 2 and 3 worker processes, and the latency of the
share-backup listing with 1,000 / 10,000 / 100,000 rows, on PostgreSQL. Run by hand, never by
the test suite.

Part "workers" (throughput):
  * the same set of shares every time: ``--shares`` (12) generated trees of about 100 MB each
    (1,500 small text-like files of 100 B-64 KiB and 20 files of 1-8 MiB, 60% text-like, 40%
    random; made once with make_share_tree's text generator, kept in the work directory and
    reused), adopted with POST /v2/shares/manage. (About 100 MB rather than a few tens, so that a
    run lasts several seconds and the 0.2 s status poll is small against it);
  * per run: a throwaway PostgreSQL database, a fresh state directory (so a fresh, encrypted
    local repository: every backup is a full one), one ``sharebackup serve --workers 0`` and N
    ``sharebackup worker`` processes (``--threads`` each; default: the workers option, 2);
  * the trees are evicted from the page cache (as run_benchmark.py does), then one backup per
    share is queued at once through the API; wall time runs from the first POST until the API
    lists every backup as available. Reported: backups/min, MB/s (tree bytes / wall), the CPU
    seconds of the worker processes (the engine) and of the API process, the host load.
  * each N is run ``--reps`` times, the order of N rotating between repetitions; medians.

Part "listing" (latency):
  * one database; rows are added with COPY to reach each of ``--rows`` (1,000, 10,000, 100,000)
    share_backups rows (100 projects, one of them holding 30% of the rows, 5% soft-deleted,
    created over a year), all referencing one share created through the API; ANALYZE after
    each step;
  * through the real API process (HTTP/1.1 keep-alive, tokens auth), ``--requests`` timed
    GET /v2/share-backups/detail?limit=100 (500) after ``--warmup`` (30) untimed ones, for: the big
    project's first page, an admin's first page with all_tenants=1, and the 10th page of both
    via marker (the marker found by walking the pages once); p50 / p99 / mean;
  * EXPLAIN (ANALYZE, BUFFERS) of the exact SQL list_backups issues (captured in-process from
    SQLAlchemy's cursor events with the same ListQuery) for the same four cases.

Everything is written under ``--work`` (default /tmp/sbscale): trees, state directories, logs
and the result JSON; the databases it creates are dropped at the end.

    .venv/bin/python benchmarks/scale_benchmark.py --work /tmp/sbscale [--part all|workers|listing]
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

from make_share_tree import TextMaker, tree_stats, write  # noqa: E402
from run_benchmark import evict  # noqa: E402
from tests.integration.server_process import (ServerProcess, _die_with_parent, isolated_env,  # noqa: E402
                                              sharebackup_command)

import psycopg  # noqa: E402

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
API_VERSION = "2.91"
KEY = "scale-benchmark-passphrase"
CLK = os.sysconf("SC_CLK_TCK")


# -- small helpers ----------------------------------------------------------------------------------

def log(*args) -> None:
    print(time.strftime("%H:%M:%S"), *args, flush=True)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def proc_cpu(pid: int) -> float:
    """user+sys CPU seconds of a live process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def host_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole host, from /proc/stat."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


class Databases:
    """Throwaway databases, all dropped at the end."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.made: list[str] = []

    def create(self, tag: str) -> str:
        name = f"{self.prefix}_{tag}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        self.made.append(name)
        return name

    def drop(self, name: str) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.made:
            self.made.remove(name)

    def drop_all(self) -> None:
        for name in list(self.made):
            try:
                self.drop(name)
            except Exception as exc:  # noqa: BLE001 - report and go on dropping the others
                log(f"could not drop database {name}: {exc}")


class Api:
    """One keep-alive HTTP/1.1 connection to the API, as one caller (token)."""

    def __init__(self, port: int, token: str):
        self.port = port
        self.token = token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict, float, int]:
        headers = {"X-Auth-Token": self.token, "Accept": "application/json",
                   "X-OpenStack-Manila-API-Version": API_VERSION}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            start = time.perf_counter()
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # the server closed the idle keep-alive connection (we waited for a quiet host):
                # the request was not taken; once more on a new connection
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt == 2:
                    raise
        elapsed = time.perf_counter() - start
        return resp.status, (json.loads(raw) if raw else {}), elapsed, len(raw)

    def ok(self, method: str, path: str, body: dict | None = None, expect=(200, 202)) -> dict:
        status, doc, _, _ = self.call(method, path, body)
        if status not in expect:
            raise RuntimeError(f"{method} {path} -> {status}: {doc}")
        return doc

    def close(self) -> None:
        self.conn.close()


def server_env(db_url: str, extra: dict | None = None) -> dict:
    env = {"SHAREBACKUP_DATABASE__CONNECTION": db_url, "SHAREBACKUP_LOG_FORMAT": "text"}
    env.update(extra or {})
    return env


# -- the shares -----------------------------------------------------------------------------------

def make_tree(root: Path, seed: int, text: TextMaker, small: int, medium: int) -> dict:
    """A share of about (small * 10 KB + medium * 4.5 MiB): small text-like files 100 B-64 KiB
    (log-uniform) in ~20 nested directories, medium files of 1-8 MiB, 60% text-like, 40% random."""
    rnd = random.Random(seed)
    text.rnd = random.Random(seed * 7919)
    dirs = [""]
    for i in range(20):
        parent = rnd.choice(dirs) if dirs[-1].count("/") < 4 else ""
        dirs.append(f"{parent}/d{i:02d}" if parent else f"d{i:02d}")
    for i in range(small):
        size = int(2.718281828 ** rnd.uniform(4.605, 11.09))  # e^ln(100) .. e^ln(64 KiB)
        write(str(root / rnd.choice(dirs) / f"f{i:04d}.txt"), text.make(size))
    for i in range(medium):
        size = rnd.randint(1 << 20, 8 << 20)
        data = text.make(size) if rnd.random() < 0.6 else rnd.randbytes(size)
        write(str(root / rnd.choice(dirs) / f"m{i:02d}.bin"), data)
    return tree_stats(str(root))


def ensure_trees(work: Path, count: int, small: int, medium: int) -> tuple[Path, list[dict]]:
    """Generate the share trees once; reused while the marker file says the same sizes."""
    trees = work / "trees"
    marker = trees / "trees.json"
    wanted = {"count": count, "small": small, "medium": medium}
    if marker.exists():
        info = json.loads(marker.read_text())
        if info.get("wanted") == wanted:
            return trees, info["stats"]
    if trees.exists():
        shutil.rmtree(trees)
    trees.mkdir(parents=True)
    text = TextMaker(1)
    stats = []
    for i in range(count):
        root = trees / f"share{i:02d}"
        root.mkdir()
        stats.append({"path": str(root), **make_tree(root, 1000 + i, text, small, medium)})
        log(f"tree {root}: {stats[-1]['bytes'] / 1e6:.1f} MB in {stats[-1]['files']} files")
    marker.write_text(json.dumps({"wanted": wanted, "stats": stats}))
    return trees, stats


# -- part 1: throughput of N worker processes -------------------------------------------------------

def start_worker(state: Path, home: Path, env: dict, threads: int | None, logfile: Path) -> subprocess.Popen:
    cmd = sharebackup_command() + ["worker", "--state-dir", str(state)]
    if threads:
        cmd += ["--threads", str(threads)]
    out = open(logfile, "ab")
    try:
        return subprocess.Popen(cmd, cwd=state.parent, env=isolated_env(home, env), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
    finally:
        out.close()


def wait_banner(logfile: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited {proc.returncode}: {logfile.read_text()[-3000:]}")
        if logfile.exists() and "sharebackup worker:" in logfile.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"worker did not start: {logfile.read_text()[-3000:]}")


def stop_process(proc: subprocess.Popen, timeout: float = 30) -> int:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


def wait_until(check, timeout: float, interval: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(interval)


def wait_quiet(max_load: float | None, max_wait: float) -> float:
    """Other work shares this host: wait (up to max_wait s) until the 1-minute load is below
    max_load. Returns the seconds waited."""
    start = time.monotonic()
    while max_load is not None and os.getloadavg()[0] >= max_load and time.monotonic() - start < max_wait:
        time.sleep(5)
    return round(time.monotonic() - start, 1)


def throughput_run(args, dbs: Databases, trees: Path, tree_stats_: list[dict], n: int, rep: int) -> dict:
    run_dir = args.work / "runs" / f"w{n}-r{rep}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    state = run_dir / "state"
    key = run_dir / "repo.key"
    key.write_text(KEY + "\n")
    db = dbs.create(f"w{n}_r{rep}")
    env = server_env(PG_URL.format(name=db), {
        "SHAREBACKUP_QUOTA__BACKUPS": "-1", "SHAREBACKUP_QUOTA__SHARES": "-1",
        "SHAREBACKUP_QUOTA__BACKUP_GIGABYTES": "-1", "SHAREBACKUP_QUOTA__GIGABYTES": "-1",
        "SHAREBACKUP_MANAGE_ALLOWED_ROOTS": str(trees), "SHAREBACKUP_BACKUP__KEY_FILE": str(key)})
    server = ServerProcess(state, auth="tokens", workers=0, env=env)
    workers: list[subprocess.Popen] = []
    try:
        server.start()
        api = Api(server.port, server.admin_token)
        for i in range(n):
            logfile = run_dir / f"worker{i}.log"
            workers.append(start_worker(state, server.home, env, args.threads, logfile))
        for i, proc in enumerate(workers):
            wait_banner(run_dir / f"worker{i}.log", proc)
        share_ids = []
        for i, t in enumerate(tree_stats_):
            doc = api.ok("POST", "/v2/shares/manage", {"share": {
                "export_path": t["path"], "service_host": "bench@local#local", "protocol": "NFS",
                "name": f"share{i:02d}"}})
            share_ids.append(doc["share"]["id"])

        def shares_ready():
            doc = api.ok("GET", "/v2/shares/detail?limit=1000")
            states = {s["id"]: s["status"] for s in doc["shares"]}
            bad = [s for s in share_ids if states.get(s) not in ("available", "manage_starting")]
            if bad:
                raise RuntimeError(f"shares failed to manage: {bad}: {states}")
            return all(states.get(s) == "available" for s in share_ids)

        wait_until(shares_ready, 120, 0.2, "the managed shares")
        waited = wait_quiet(args.max_load, args.max_wait)
        evict(str(trees))
        time.sleep(1.0)
        load_before = load()
        cpu0 = {p.pid: proc_cpu(p.pid) for p in workers}
        api_cpu0 = proc_cpu(server.proc.pid)
        host0 = host_cpu()
        t0 = time.time()
        backup_ids = []
        for i, sid in enumerate(share_ids):
            doc = api.ok("POST", "/v2/share-backups", {"share_backup": {"share_id": sid, "name": f"b{i:02d}"}})
            backup_ids.append(doc["share_backup"]["id"])
        queued = time.time() - t0

        def backups_done():
            doc = api.ok("GET", "/v2/share-backups/detail?limit=1000")
            states = {b["id"]: b["status"] for b in doc["share_backups"]}
            failed = [b for b in backup_ids if states.get(b) == "error"]
            if failed:
                raise RuntimeError(f"backups failed: {failed}; see {run_dir}")
            return all(states.get(b) == "available" for b in backup_ids)

        wait_until(backups_done, args.timeout, args.poll, "the backups")
        wall = time.time() - t0
        host1 = host_cpu()
        worker_cpu = sum(proc_cpu(p.pid) - cpu0[p.pid] for p in workers)
        api_cpu = proc_cpu(server.proc.pid) - api_cpu0
        load_after = load()
        # when did the last backup really end (the worker's own clock, same host): the poll
        # interval does not count then
        with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={db}") as conn:
            first_created, last_updated = conn.execute(
                "SELECT min(created_at), max(updated_at) FROM share_backups").fetchone()
        db_wall = (last_updated - first_created).total_seconds()
        total_bytes = sum(t["bytes"] for t in tree_stats_)
        repo_bytes = sum(f.stat().st_size for f in (state / "repository").rglob("*") if f.is_file())
        api.close()
        row = {"workers": n, "threads_per_worker": args.threads or "default (2)", "rep": rep,
               "shares": len(share_ids), "bytes": total_bytes, "wall_s": round(wall, 3),
               "db_wall_s": round(db_wall, 3), "queue_s": round(queued, 3),
               "backups_per_min": round(len(share_ids) / wall * 60, 2), "mb_per_s": round(total_bytes / 1e6 / wall, 2),
               "worker_cpu_s": round(worker_cpu, 2), "api_cpu_s": round(api_cpu, 2),
               "host_busy_pct": round(100 * (host1[0] - host0[0]) / max(1, host1[1] - host0[1]), 1),
               "repo_bytes": repo_bytes, "load_before": load_before, "load_after": load_after,
               "waited_for_load_s": waited}
        log(f"workers={n} rep={rep}: wall {wall:.1f} s (db {db_wall:.1f} s), {row['mb_per_s']} MB/s, "
            f"worker CPU {worker_cpu:.1f} s, host busy {row['host_busy_pct']}%, load {load_before}")
        return row
    finally:
        for proc in workers:
            stop_process(proc)
        server.stop(check=False)
        dbs.drop(db)
        if not args.keep:
            shutil.rmtree(state, ignore_errors=True)


def part_workers(args, dbs: Databases) -> dict:
    trees, stats = ensure_trees(args.work, args.shares, args.small_files, args.medium_files)
    counts = [int(x) for x in args.workers.split(",")]
    rows = []
    for rep in range(args.reps):
        order = counts[rep % len(counts):] + counts[:rep % len(counts)]
        for n in order:
            rows.append(throughput_run(args, dbs, trees, stats, n, rep))
    summary = []
    base = None
    for n in counts:
        mine = [r for r in rows if r["workers"] == n]
        wall = statistics.median(r["wall_s"] for r in mine)
        base = base or wall
        summary.append({"workers": n, "wall_s": round(wall, 2), "walls": [r["wall_s"] for r in mine],
                        "backups_per_min": round(len(stats) / wall * 60, 1),
                        "mb_per_s": round(sum(t["bytes"] for t in stats) / 1e6 / wall, 1),
                        "worker_cpu_s": round(statistics.median(r["worker_cpu_s"] for r in mine), 1),
                        "api_cpu_s": round(statistics.median(r["api_cpu_s"] for r in mine), 2),
                        "host_busy_pct": round(statistics.median(r["host_busy_pct"] for r in mine), 0),
                        "speedup": round(base / wall, 2),
                        "load_before": [r["load_before"][0] for r in mine]})
    return {"trees": stats, "total_mb": round(sum(t["bytes"] for t in stats) / 1e6, 1), "runs": rows,
            "summary": summary}


# -- part 2: listing latency ------------------------------------------------------------------------

COLUMNS = ("id", "deleted", "deleted_at", "user_id", "project_id", "share_id", "size", "host", "topic",
           "display_name", "display_description", "progress", "restore_progress", "status", "fail_reason",
           "backup_type", "availability_zone", "engine_snapshot_id", "repository", "created_at", "updated_at")
BIG_PROJECT = "project-000"
SMALL_PROJECT = "project-050"  # one of the 99 others (~0.7% of the rows): EXPLAIN only


def backup_rows(rnd: random.Random, count: int, share_id: str, now: dt.datetime):
    """Realistic rows: 100 projects (project-000 holds 30%), 5% soft-deleted, mostly available,
    created over the last year."""
    for _ in range(count):
        project = BIG_PROJECT if rnd.random() < 0.3 else f"project-{rnd.randint(1, 99):03d}"
        created = now - dt.timedelta(seconds=rnd.uniform(0, 365 * 86400))
        updated = created + dt.timedelta(seconds=rnd.uniform(5, 3600))
        deleted = rnd.random() < 0.05
        status = "available" if rnd.random() < 0.97 else rnd.choice(("error", "creating", "restoring"))
        yield (str(uuid.UUID(int=rnd.getrandbits(128), version=4)), deleted, updated if deleted else None,
               f"user-{rnd.randint(0, 9)}-{project}", project, share_id, rnd.randint(1, 500),
               "bench@local#local", "manila-data", f"nightly-{created:%Y%m%d-%H%M%S}", "scheduled backup",
               "100" if status == "available" else str(rnd.randint(0, 99)), "0", status,
               "engine error: repository locked" if status == "error" else None, None, "nova",
               f"{rnd.getrandbits(256):064x}", "default", created, updated)


def fill(db: str, share_id: str, have: int, want: int, rnd: random.Random, now: dt.datetime) -> float:
    start = time.monotonic()
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={db}") as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY share_backups ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in backup_rows(rnd, want - have, share_id, now):
                    copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE share_backups")
    return time.monotonic() - start


def capture_and_explain(db_url: str, state: Path, cases: dict) -> dict:
    """Run list_backups in this process with the same ListQuery as the API builds, catch the
    SQL it sends (cursor events), and EXPLAIN (ANALYZE, BUFFERS) that exact statement."""
    from sqlalchemy import event

    from sharebackup.api.context import RequestContext
    from sharebackup.api.runtime import build_runtime
    from sharebackup.api.schemas.share_backups import ListQuery
    from sharebackup.config import load_config
    from sharebackup.services import share_backups

    conf = load_config(environ={"SHAREBACKUP_DATABASE__CONNECTION": db_url}, state_dir=str(state))
    rt = build_runtime(conf)
    seen: list[tuple[str, object]] = []

    @event.listens_for(rt.db.engine, "before_cursor_execute")
    def _catch(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    out = {}
    try:
        for name, (project, admin, marker) in cases.items():
            if admin:
                ctx = RequestContext(user_id="admin", project_id="admin", roles=["admin", "member", "reader"],
                                     is_admin=True)
            else:
                ctx = RequestContext(user_id="bench", project_id=project, roles=["member", "reader"])
            seen.clear()
            page, _more = share_backups.list_backups(rt, ctx, ListQuery(filters={}, limit=100, marker=marker,
                                                                       all_tenants=admin))
            statement, params = [s for s in seen if "FROM share_backups" in s[0] and "LIMIT" in s[0]][-1]
            with rt.db.engine.connect() as conn:
                plan = [r[0] for r in conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)]
            out[name] = {"rows_returned": len(page), "sql": statement,
                         "params": {k: str(v) for k, v in dict(params).items()}, "plan": plan}
    finally:
        rt.db.dispose()
    return out


def time_case(api: Api, path: str, warmup: int, requests: int) -> dict:
    for _ in range(warmup):
        status, doc, _, _ = api.call("GET", path)
        assert status == 200 and len(doc["share_backups"]) == 100, (status, path, doc)
    times, size = [], 0
    for _ in range(requests):
        status, doc, elapsed, size = api.call("GET", path)
        assert status == 200 and len(doc["share_backups"]) == 100, (status, path)
        times.append(elapsed * 1000)
    return {"p50_ms": round(pct(times, 50), 2), "p99_ms": round(pct(times, 99), 2),
            "mean_ms": round(statistics.fmean(times), 2), "min_ms": round(min(times), 2),
            "max_ms": round(max(times), 2), "n": len(times), "bytes": size}


def marker_for_page(api: Api, base: str, page: int) -> str | None:
    """The id that page `page` starts after (walking pages 1..page-1 with markers), or None when
    there is no full page `page`."""
    marker = None
    for _ in range(page - 1):
        doc = api.ok("GET", base + (f"&marker={marker}" if marker else ""))
        if len(doc["share_backups"]) < 100:
            return None
        marker = doc["share_backups"][-1]["id"]
    doc = api.ok("GET", base + f"&marker={marker}")
    return marker if len(doc["share_backups"]) == 100 else None


def part_listing(args, dbs: Databases) -> dict:
    run_dir = args.work / "listing"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    state = run_dir / "state"
    db = dbs.create("listing")
    url = PG_URL.format(name=db)
    server = ServerProcess(state, auth="tokens", workers=0, env=server_env(url))
    results = {"steps": [], "database": db}
    try:
        server.start()
        admin = Api(server.port, server.admin_token)
        share = admin.ok("POST", "/v2/shares", {"share": {"share_proto": "NFS", "size": 1, "name": "listed"}})
        share_id = share["share"]["id"]  # stays "creating" (no workers): it only has to exist
        member = Api(server.port, server.create_token(BIG_PROJECT, "bench", ("member", "reader")))
        rnd = random.Random(42)
        now = dt.datetime.utcnow().replace(microsecond=0)
        have = 0
        for want in sorted(int(x) for x in args.rows.split(",")):
            took = fill(db, share_id, have, want, rnd, now)
            have = want
            with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={db}") as conn:
                live_big = conn.execute("SELECT count(*) FROM share_backups WHERE NOT deleted AND project_id = %s",
                                        (BIG_PROJECT,)).fetchone()[0]
                live_all = conn.execute("SELECT count(*) FROM share_backups WHERE NOT deleted").fetchone()[0]
            log(f"listing: {have} rows ({live_big} live in {BIG_PROJECT}, {live_all} live in all) in {took:.1f} s")
            project_path = "/v2/share-backups/detail?limit=100"
            admin_path = "/v2/share-backups/detail?limit=100&all_tenants=1"
            m_project = marker_for_page(member, project_path, 10)
            m_admin = marker_for_page(admin, admin_path, 10)
            cases = {"project page 1": (member, project_path), "admin all_tenants page 1": (admin, admin_path),
                     "project page 10 (marker)": (member, m_project and f"{project_path}&marker={m_project}"),
                     "admin page 10 (marker)": (admin, m_admin and f"{admin_path}&marker={m_admin}")}
            step = {"rows": have, "live_big_project": live_big, "live_all": live_all, "load_before": load(),
                    "cases": {}}
            for name, (api, path) in cases.items():
                # no full 10th page (1,000 rows): n/a
                step["cases"][name] = time_case(api, path, args.warmup, args.requests) if path else None
                log(f"  {name}: {step['cases'][name]}")
            step["load_after"] = load()
            explain = {"project page 1": (BIG_PROJECT, False, None), "admin all_tenants page 1": (None, True, None),
                       "project page 10 (marker)": (BIG_PROJECT, False, m_project),
                       "admin page 10 (marker)": (None, True, m_admin),
                       f"small project ({SMALL_PROJECT}) page 1": (SMALL_PROJECT, False, None)}
            step["explain"] = capture_and_explain(url, state, {k: v for k, v in explain.items()
                                                               if "page 10" not in k or v[2]})
            for name, info in step["explain"].items():
                log(f"  EXPLAIN {name}: " + " | ".join(line.strip() for line in info["plan"][:4]))
            results["steps"].append(step)
        admin.close()
        member.close()
    finally:
        server.stop(check=False)
        dbs.drop(db)
        if not args.keep:
            shutil.rmtree(state, ignore_errors=True)
    return results


# -- report -----------------------------------------------------------------------------------------

def markdown(result: dict) -> str:
    lines = []
    if "workers" in result:
        w = result["workers"]
        lines += [f"{len(w['trees'])} shares, {w['total_mb']} MB", "",
                  "| worker processes | median wall s (runs) | backups/min | MB/s | speed-up vs 1 | worker CPU s | "
                  "host busy % | load 1-min at start |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        for s in w["summary"]:
            lines.append(f"| {s['workers']} | {s['wall_s']} ({', '.join(str(x) for x in s['walls'])}) | "
                         f"{s['backups_per_min']} | {s['mb_per_s']} | {s['speedup']} | {s['worker_cpu_s']} | "
                         f"{s['host_busy_pct']:.0f} | {', '.join(str(x) for x in s['load_before'])} |")
        lines.append("")
    if "listing" in result:
        names = list(result["listing"]["steps"][0]["cases"])
        lines += ["| rows | " + " | ".join(f"{n} p50 / p99 ms" for n in names) + " |",
                  "| ---: | " + " | ".join("---:" for _ in names) + " |"]
        for step in result["listing"]["steps"]:
            cells = [f"{c['p50_ms']:.1f} / {c['p99_ms']:.1f}" if c else "n/a" for c in step["cases"].values()]
            lines.append(f"| {step['rows']:,} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/sbscale"))
    ap.add_argument("--part", choices=("all", "workers", "listing"), default="all")
    ap.add_argument("--shares", type=int, default=12)
    ap.add_argument("--small-files", type=int, default=1500)
    ap.add_argument("--medium-files", type=int, default=20)
    ap.add_argument("--workers", default="1,2,3", help="worker process counts")
    ap.add_argument("--threads", type=int, default=None, help="--threads of each worker (default: its own, 2)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--max-load", type=float, default=None,
                    help="before each throughput run, wait until the 1-minute load average is below this")
    ap.add_argument("--max-wait", type=float, default=300, help="... but at most this many seconds")
    ap.add_argument("--poll", type=float, default=0.2)
    ap.add_argument("--rows", default="1000,10000,100000")
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--keep", action="store_true", help="keep the state directories")
    args = ap.parse_args()
    args.work = args.work.resolve()
    if REPO == args.work or REPO in args.work.parents:
        raise SystemExit("--work must be outside the repository")
    args.work.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    result = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "commit": commit, "cpus": os.cpu_count(),
              "argv": sys.argv, "load_start": load()}
    dbs = Databases(f"sbscale_{os.getpid()}")
    try:
        if args.part in ("all", "workers"):
            result["workers"] = part_workers(args, dbs)
        if args.part in ("all", "listing"):
            result["listing"] = part_listing(args, dbs)
    finally:
        dbs.drop_all()
    result["load_end"] = load()
    result["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = args.work / f"scale-{args.part}-{stamp}.json"
    out.write_text(json.dumps(result, indent=1, default=str))
    table = markdown(result)
    (args.work / f"scale-{args.part}-{stamp}.md").write_text(table)
    print(table)
    log(f"results: {out}")


if __name__ == "__main__":
    main()
