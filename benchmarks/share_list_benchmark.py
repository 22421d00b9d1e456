"""GET /v2/shares latency with 1,000 / 10,000 / 100,000 shares on PostgreSQL (issue 9).

`list_shares` used to load every visible row and filter, sort and slice in Python; it now
counts and pages in SQL (keyset after a marker) unless a metadata or extra-specs filter
asks for Python. Run by hand, never by the test suite:

    .venv/bin/python benchmarks/share_list_benchmark.py [--rows 1000,10000,100000] [--requests 300]

One throwaway database; rows are added with COPY (100 projects, project-000 holding 30%,
created over a year), then ANALYZE. Through the real API process (keep-alive HTTP/1.1,
tokens auth), after --warmup untimed requests: the big project's first page
(`GET /v2/shares?limit=100`), its detail page, and an admin's all_tenants=1 page 10 by
marker. p50 / p99 / mean in ms. The result JSON and table go under --work.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scale_benchmark import (PG_URL, Api, Databases, ServerProcess, load, log, pct,  # noqa: E402
                             server_env)

import psycopg  # noqa: E402

COLUMNS = ("id", "deleted", "user_id", "project_id", "display_name", "size", "share_proto", "status",
           "availability_zone", "is_public", "metadata", "is_soft_deleted", "is_managed", "host", "created_at",
           "updated_at")
BIG_PROJECT = "project-000"


def share_rows(rnd: random.Random, count: int, now: dt.datetime):
    for _ in range(count):
        project = BIG_PROJECT if rnd.random() < 0.3 else f"project-{rnd.randint(1, 99):03d}"
        created = now - dt.timedelta(seconds=rnd.uniform(0, 365 * 86400))
        yield (str(uuid.UUID(int=rnd.getrandbits(128), version=4)), False, f"user-{project}", project,
               f"share-{created:%Y%m%d-%H%M%S}", rnd.randint(1, 500), "NFS", "available", "nova", False, "{}",
               False, False, "bench@local#local", created, created)


def fill(db: str, have: int, want: int, rnd: random.Random, now: dt.datetime) -> float:
    start = time.monotonic()
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={db}") as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY shares ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in share_rows(rnd, want - have, now):
                    copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE shares")
    return time.monotonic() - start


def time_case(api: Api, path: str, warmup: int, requests: int) -> dict:
    times = []
    for number in range(warmup + requests):
        status, doc, elapsed, _size = api.call("GET", path)
        assert status == 200 and len(doc["shares"]) == 100, (status, path)
        if number >= warmup:
            times.append(elapsed * 1000)
    return {"p50_ms": round(pct(times, 50), 2), "p99_ms": round(pct(times, 99), 2),
            "mean_ms": round(statistics.fmean(times), 2), "n": len(times)}


def tenth_page_marker(api: Api, base: str) -> str:
    marker = None
    for _ in range(9):
        doc = api.ok("GET", base + (f"&marker={marker}" if marker else ""))
        marker = doc["shares"][-1]["id"]
    return marker


def run(args) -> dict:
    dbs = Databases(f"sbshares_{os.getpid()}")
    db = dbs.create("list")
    state = args.work / "state"
    server = ServerProcess(state, auth="tokens", workers=0, env=server_env(PG_URL.format(name=db)))
    steps = []
    try:
        server.start()
        admin = Api(server.port, server.admin_token)
        member = Api(server.port, server.create_token(BIG_PROJECT, "bench", ("member", "reader")))
        rnd, now, have = random.Random(7), dt.datetime.utcnow().replace(microsecond=0), 0
        for want in sorted(int(x) for x in args.rows.split(",")):
            took = fill(db, have, want, rnd, now)
            have = want
            log(f"{have} shares in the database ({took:.1f} s to add)")
            admin_base = "/v2/shares?limit=100&all_tenants=1"
            cases = {"project page 1": (member, "/v2/shares?limit=100"),
                     "project detail page 1": (member, "/v2/shares/detail?limit=100"),
                     "admin all_tenants page 10 (marker)":
                         (admin, f"{admin_base}&marker={tenth_page_marker(admin, admin_base)}")}
            step = {"rows": have, "load_before": load(), "cases": {}}
            for name, (api, path) in cases.items():
                step["cases"][name] = time_case(api, path, args.warmup, args.requests)
                log(f"  {name}: {step['cases'][name]}")
            steps.append(step)
        admin.close()
        member.close()
    finally:
        server.stop(check=False)
        dbs.drop_all()
    return {"steps": steps}


def markdown(result: dict) -> str:
    names = list(result["steps"][0]["cases"])
    lines = ["| shares | " + " | ".join(f"{n} p50 / p99 ms" for n in names) + " |",
             "| ---: | " + " | ".join("---:" for _ in names) + " |"]
    for step in result["steps"]:
        cells = [f"{c['p50_ms']:.1f} / {c['p99_ms']:.1f}" for c in step["cases"].values()]
        lines.append(f"| {step['rows']:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/sbshares"))
    ap.add_argument("--rows", default="1000,10000,100000")
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=20)
    args = ap.parse_args()
    args.work = args.work.resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    result = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count(), "argv": sys.argv,
              **run(args)}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.work / f"shares-{stamp}.json").write_text(json.dumps(result, indent=1, default=str))
    table = markdown(result)
    (args.work / f"shares-{stamp}.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
