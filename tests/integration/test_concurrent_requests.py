"""The concurrency test (issue 5): 50 concurrent create and delete requests on the same shares,
through both API processes. Nothing is lost or duplicated, and the quotas are exact.

Processes: one throwaway database (PostgreSQL; SQLite too, with one API process), API
processes `sharebackup serve --workers 0` and `sharebackup worker` processes, all started
here, noauth (the test's project member `connie:concproj`; `admin:admin` sets the quota).

Set-up, sequential: three shares A (1 GiB), B (1 GiB), C (4 GiB) with a few small files each;
five seed backups A1 A2 B1 B2 C1 (8 GiB), all available; then the project quota is lowered
to backups=7, backup_gigabytes=9 through the quota-set API.

The burst: 50 threads released together by a barrier, each sending one real HTTP request,
alternating between the API processes:
  - 26 `POST /v2/share-backups` (9 on A, 9 on B, 8 on C);
  - 24 `DELETE /v2/share-backups/{id}`: 12 of A1 and 12 of B1, each half through each API.

What can be said before the run, whatever the interleaving:
  - the first create on A or B to be handled fits the quota (<= 6 backups, <= 9 GiB): >= one 202;
  - every create on C is 413 backup_gigabytes: the rows that are never deleted (A2 B2 C1) hold
    6 GiB, and 6 + 4 > 9;
  - each of A1 and B1 is deleted exactly once (202); its other deletes are 400 (deleting) or
    404 (already gone);
  - a create on a share in backup_creating is 400 (Manila checks the status before the quota),
    on an available share it is 202 or 413.

Checked, during the burst by a sampler thread and afterwards on the rows, jobs and API:
  - no 5xx; every refusal has Manila's fault body, code and message (400 busy share / backup
    not deletable, 404 unknown backup, 413 with Retry-After for the quota; the 413's numbers
    show a real overshoot);
  - no share ever has two backups in creating (sampled, and from the rows: each burst backup of
    a share was created after the previous one finished);
  - every 202 create is exactly one row, ending available (or error with a fail_reason), and no
    row exists that no request was answered with;
  - every accepted delete removed exactly that backup: 404 on both APIs, gone from both lists,
    its row deleted, one delete job (lock retries aside), done; the backups not deleted are
    untouched;
  - after the queue drained: no backup creating/deleting, every share available, no job left;
  - quota detail (2.80) on both APIs: in_use equals the count and size of the live rows,
    reserved 0; the jobs table holds exactly one create job per backup row.

Run with `-s` to see the one-line summary ("CONCURRENCY ...").
"""
from __future__ import annotations

import collections
import json
import re
import socket
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import create_pg_database, drop_pg_database, require_pg
from tests.integration.server_process import free_port, upgrade_database, write_service_config
from tests.integration.test_fault_recovery import Db, Proc, answering, poll

PROJECT, USER = "concproj", "connie"
TOKEN = f"{USER}:{PROJECT}"          # noauth: user:project
VERSION = "2.80"
SHARE_SIZES = {"A": 1, "B": 1, "C": 4}
CREATES = {"A": 9, "B": 9, "C": 8}   # 26 creates
DELETES_EACH = 12                    # of A1 and of B1: 24 deletes
QUOTA = {"backups": 7, "backup_gigabytes": 9}
BURST = sum(CREATES.values()) + 2 * DELETES_EACH
WAIT = 60.0                          # bound of every wait (shares, seeds, drain)

BUSY_RE = re.compile(r"^Share (\S+) is in 'backup_creating' state, but it must be in 'available' state "
                     r"to create a backup\.$")
GIGABYTES_RE = re.compile(r"^ShareBackupSizeExceedsAvailableQuota: Requested backup exceeds allowed Backup "
                          r"gigabytes quota\. Requested (\d+)G, quota is (\d+)G and (\d+)G has been consumed\.$")
ACCESS_RE = re.compile(r"sharebackup\.access .* (POST /v2/share-backups|DELETE /v2/share-backups/\S+) (\d{3})\b")
COUNT_MSG = f"BackupLimitExceeded: Maximum number of backups allowed ({QUOTA['backups']}) exceeded."


# -- HTTP ----------------------------------------------------------------------------------------

class Client:
    """JSON requests to a chosen API process; answers (status, headers with lower-case names, body).

    Each request is written to its socket in one piece (request line, headers and body), so that
    what this test measures is the service's handling of the requests; the listen backlog that
    once reset some of the standard library's two-write POSTs has its own test
    (test_api_listen_backlog below)."""

    def __init__(self, endpoints: list[str]):
        self.endpoints = endpoints

    def request(self, api: int, method: str, path: str, body=None, version: str = VERSION, token: str = TOKEN):
        url = urllib.parse.urlsplit(self.endpoints[api % len(self.endpoints)] + path)
        data = json.dumps(body).encode() if body is not None else b""
        head = (f"{method} {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nX-Auth-Token: {token}\r\n"
                f"Accept: application/json\r\nContent-Type: application/json\r\n"
                f"X-OpenStack-Manila-API-Version: {version}\r\nX-OpenStack-Manila-API-Experimental: True\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n")
        with socket.create_connection((url.hostname, url.port), timeout=60) as sock:
            sock.sendall(head.encode() + data)
            raw = b""
            while chunk := sock.recv(65536):
                raw += chunk
        head_raw, _, payload = raw.partition(b"\r\n\r\n")
        lines = head_raw.decode("iso-8859-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            payload = dechunk(payload)
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = {"<not json>": payload.decode(errors="replace")}
        return status, headers, parsed

    def ok(self, api: int, method: str, path: str, body=None, expect=(200, 202), token: str = TOKEN):
        status, _, answer = self.request(api, method, path, body, token=token)
        assert status in expect, f"{method} {path} on API {api} -> {status}: {answer}"
        return answer

    def backup(self, api: int, backup_id: str) -> dict | None:
        status, _, answer = self.request(api, "GET", f"/share-backups/{backup_id}")
        if status == 404:
            return None
        assert status == 200, (status, answer)
        return answer["share_backup"]


def dechunk(payload: bytes) -> bytes:
    out = b""
    while payload:
        size_line, _, rest = payload.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        payload = rest[size + 2:]
    return out


def fault(status: int, body) -> tuple[str, str]:
    """(fault name, message) of a Manila fault body; fails unless it is exactly one."""
    assert isinstance(body, dict) and len(body) == 1, f"{status}: not a fault body: {body!r}"
    (name, inner), = body.items()
    assert isinstance(inner, dict) and inner.get("code") == status and isinstance(inner.get("message"), str), \
        f"{status}: fault body without the code or a message: {body!r}"
    return name, inner["message"]


# -- set-up --------------------------------------------------------------------------------------

def start_processes(tmp_path: Path, backend: str, db_url: str):
    state, logs, home = tmp_path / "state", tmp_path / "logs", tmp_path / "home"
    for d in (state, logs, home):
        d.mkdir()
    # a backup that finds the repository locked by a delete's forget (or the reverse) is queued
    # again one repository lock lease later (3 job leases, at least 10 s; 90 s by default)
    conf = write_service_config(tmp_path / "sharebackup.conf", state=state, db_url=db_url,
                                quota={"shares": 50, "gigabytes": 500, "backups": 50, "backup_gigabytes": 500},
                                backup={"job_lease_seconds": 4})
    upgrade_database(conf, home)
    api_count, worker_count = (2, 2) if backend == "postgres" else (1, 1)
    ports = [free_port() for _ in range(api_count)]
    procs = []
    for i, port in enumerate(ports):
        procs.append(Proc(f"api{i + 1}", ["serve", "--config", str(conf), "--workers", "0", "--host", "127.0.0.1",
                                          "--port", str(port)], logs / f"api{i + 1}.log", home).start())
    for i in range(worker_count):
        procs.append(Proc(f"worker{i + 1}", ["worker", "--config", str(conf)], logs / f"worker{i + 1}.log",
                          home).start())
    for proc, port in zip(procs, ports):
        assert poll(lambda proc=proc, port=port: answering(proc, port), 30, 0.2), \
            f"{proc.name} did not answer on port {port}"
    return procs, Client([f"http://127.0.0.1:{port}/v2" for port in ports])


def create_share(client: Client, name: str, size: int) -> str:
    share = client.ok(0, "POST", "/shares", {"share": {"share_proto": "NFS", "size": size, "name": name}})["share"]
    shown = poll(lambda: (s := client.ok(0, "GET", f"/shares/{share['id']}")["share"])["status"]
                 in ("available", "error") and s, WAIT)
    assert shown and shown["status"] == "available", f"share {name} did not become available: {shown}"
    exports = client.ok(0, "GET", f"/shares/{share['id']}/export_locations", )["export_locations"]
    root = Path(exports[0]["path"])
    assert root.is_dir(), exports
    (root / "dir").mkdir()
    for i in range(3):
        (root / "dir" / f"file{i}.txt").write_text(f"{name} file {i}\n" * (50 * (i + 1)))
    (root / "top.bin").write_bytes(bytes(range(256)) * 16)
    return share["id"]


def seed_backups(client: Client, shares: dict[str, str], names: list[str]) -> dict[str, str]:
    """One backup per name ("A1" is a backup of share A), all available at the end."""
    ids = {}
    for name in names:
        ids[name] = client.ok(0, "POST", "/share-backups", {"share_backup": {
            "share_id": shares[name[0]], "name": f"seed-{name}"}})["share_backup"]["id"]
    for name, backup_id in ids.items():
        shown = poll(lambda: (b := client.backup(0, backup_id)) and b["status"] != "creating" and b, WAIT)
        assert shown and shown["status"] == "available", f"seed backup {name} did not become available: {shown}"
    return ids


# -- the test ------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"])
def test_concurrent_creates_and_deletes(tmp_path, backend):
    if backend == "postgres":
        require_pg()
        db_url = create_pg_database()
    else:
        db_url = f"sqlite:///{tmp_path / 'state' / 'sharebackup.sqlite'}"
    procs: list[Proc] = []
    db = None
    burst_over = threading.Event()   # stops the sampler thread
    try:
        procs, client = start_processes(tmp_path, backend, db_url)
        apis = len(client.endpoints)
        db = Db(db_url)

        # -- set-up: shares, seed backups, the low quota
        shares = {key: create_share(client, f"conc-{key}", size) for key, size in SHARE_SIZES.items()}
        share_key = {share_id: key for key, share_id in shares.items()}
        seeds = seed_backups(client, shares, ["A1", "B1", "C1"])
        seeds.update(seed_backups(client, shares, ["A2", "B2"]))
        victims = {seeds["A1"], seeds["B1"]}
        kept = {seeds["A2"], seeds["B2"], seeds["C1"]}
        answer = client.ok(0, "PUT", f"/quota-sets/{PROJECT}", {"quota_set": dict(QUOTA)},  # an admin's call
                           token="admin:admin")["quota_set"]
        assert {k: answer[k] for k in QUOTA} == QUOTA, answer

        # -- the burst
        plan: list[tuple[str, str]] = []   # (kind, share key or backup id), interleaved
        for i in range(max(max(CREATES.values()), DELETES_EACH)):
            for key, count in CREATES.items():
                if i < count:
                    plan.append(("create", key))
            if i < DELETES_EACH:
                plan += [("delete", seeds["A1"]), ("delete", seeds["B1"])]
        assert len(plan) == BURST == 50
        results: list[dict | None] = [None] * len(plan)
        barrier = threading.Barrier(len(plan))
        overlaps: list[list[dict]] = []
        samples = [0]

        def send(i: int) -> None:
            kind, target = plan[i]
            api = i % apis
            try:
                barrier.wait(30)
                if kind == "create":
                    status, headers, body = client.request(api, "POST", "/share-backups", {"share_backup": {
                        "share_id": shares[target], "name": f"burst-{i}"}})
                else:
                    status, headers, body = client.request(api, "DELETE", f"/share-backups/{target}")
                results[i] = {"i": i, "kind": kind, "target": target, "api": api, "status": status,
                              "headers": headers, "body": body}
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                results[i] = {"i": i, "kind": kind, "target": target, "api": api, "status": None,
                              "error": f"{type(exc).__name__}: {exc}"}

        def sample() -> None:
            """Until the queue drained: any share with two backups in creating at the same moment."""
            while not burst_over.is_set():
                rows = db.rows("SELECT share_id, count(*) AS n FROM share_backups WHERE project_id = :p "
                               "AND NOT deleted AND status = 'creating' GROUP BY share_id HAVING count(*) > 1",
                               p=PROJECT)
                samples[0] += 1
                if rows:
                    overlaps.append(rows)
                burst_over.wait(0.01)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(len(plan))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads), "requests still running after 120 s"

        # -- drain: no job queued or running, nothing transitional
        def drained():
            busy = db.rows("SELECT id FROM jobs WHERE state IN ('queued', 'running')")
            moving = db.rows("SELECT id FROM share_backups WHERE NOT deleted AND status IN ('creating', 'deleting')")
            return not busy and not moving
        poll(drained, WAIT, 0.2)
        burst_over.set()
        sampler.join(10)

        # -- what the clients were told
        by_status = collections.Counter((r["kind"], r["status"]) for r in results)
        per_api = collections.Counter((r["api"], r["kind"]) for r in results)
        server_errors = [r for r in results if r["status"] is None or r["status"] >= 500]
        assert not server_errors, f"5xx or no answer: {server_errors}"
        # the API processes' access logs saw each request once, and answered what the client got
        logged = collections.Counter()
        for proc in procs[:apis]:
            for line in proc.log.read_text(errors="replace").splitlines():
                if match := ACCESS_RE.search(line):
                    logged[("create" if match.group(1).startswith("POST") else "delete", int(match.group(2)))] += 1
        logged[("create", 202)] -= len(seeds)
        assert +logged == by_status, f"access logs {dict(logged)} != answers {dict(by_status)}"
        created: dict[str, dict] = {}      # backup id -> the 202 answer's share_backup
        accepted_deletes: list[str] = []
        busy_400 = quota_413 = 0
        for r in results:
            status, body, target = r["status"], r["body"], r["target"]
            where = f"request {r['i']} ({r['kind']} {target} on API {r['api']})"
            if r["kind"] == "create":
                share_id = shares[target]
                if status == 202:
                    sb = body["share_backup"]
                    assert sb["share_id"] == share_id and sb["status"] == "creating", f"{where}: {body}"
                    assert sb["id"] not in created, f"{where}: the id {sb['id']} was returned twice"
                    created[sb["id"]] = sb
                elif status == 400:
                    name, message = fault(status, body)
                    assert name == "badRequest", f"{where}: {body}"
                    match = BUSY_RE.match(message)
                    assert match and match.group(1) == share_id, f"{where}: {message!r}"
                    busy_400 += 1
                elif status == 413:
                    name, message = fault(status, body)
                    assert name == "overLimit" and body["overLimit"].get("retryAfter") == "0", f"{where}: {body}"
                    assert r["headers"].get("retry-after") == "0", f"{where}: headers {r['headers']}"
                    match = GIGABYTES_RE.match(message)
                    if match:
                        requested, quota, consumed = map(int, match.groups())
                        assert requested == SHARE_SIZES[target] and quota == QUOTA["backup_gigabytes"], message
                        assert consumed + requested > quota, f"{where}: refused although it fits: {message}"
                    else:
                        assert message == COUNT_MSG, f"{where}: {message!r}"
                    quota_413 += 1
                else:
                    pytest.fail(f"{where}: unexpected {status}: {body}")
            else:
                if status == 202:
                    assert body is None, f"{where}: a 202 delete has a body: {body!r}"
                    accepted_deletes.append(target)
                elif status == 400:
                    name, message = fault(status, body)
                    assert name == "badRequest" and message == (
                        f"Invalid backup: Backup {target} status must be available or error."), f"{where}: {body}"
                elif status == 404:
                    name, message = fault(status, body)
                    assert name == "itemNotFound" and message == f"No backup exists with ID {target}.", \
                        f"{where}: {body}"
                else:
                    pytest.fail(f"{where}: unexpected {status}: {body}")

        # -- the rows and the jobs
        rows = {r["id"]: r for r in db.rows(
            "SELECT id, share_id, status, deleted, fail_reason, size, created_at, updated_at FROM share_backups "
            "WHERE project_id = :p", p=PROJECT)}
        jobs = db.rows("SELECT id, kind, resource_id, state, payload, last_error FROM jobs "
                       "WHERE kind LIKE 'share_backup.%'")
        for job in jobs:   # JSON is text on SQLite
            job["payload"] = json.loads(job["payload"]) if isinstance(job["payload"], str) else job["payload"] or {}
        share_rows = {r["id"]: r for r in db.rows("SELECT id, status FROM shares WHERE project_id = :p", p=PROJECT)}
        live = [r for r in rows.values() if not r["deleted"]]
        quotas = [client.ok(api, "GET", f"/{PROJECT}/quota-sets/{PROJECT}/detail")["quota_set"]
                  for api in range(apis)]
        summary = (f"CONCURRENCY ({backend}, {apis} API + {len(procs) - apis} worker processes): {len(plan)} requests "
                   f"{dict(sorted((f'{k}:{s}', n) for (k, s), n in by_status.items()))}; per API "
                   f"{dict(sorted((f'api{a}:{k}', n) for (a, k), n in per_api.items()))}; {len(created)} backups "
                   f"created, statuses {dict(collections.Counter(rows[b]['status'] for b in created if b in rows))}; "
                   f"{len(live)} live rows, {sum(r['size'] for r in live)} GiB; quota in_use "
                   f"{[(q['backups']['in_use'], q['backup_gigabytes']['in_use']) for q in quotas]}; "
                   f"{len(jobs)} backup jobs; {samples[0]} samples, overlaps {len(overlaps)}")
        print(summary, flush=True)

        # the run exercised what it is meant to
        assert created, summary
        assert busy_400 >= 1, "no create met a share in backup_creating: " + summary
        assert all(r["status"] == 413 for r in results if r["kind"] == "create" and r["target"] == "C"), summary
        assert sorted(accepted_deletes) == sorted(victims), f"accepted deletes {accepted_deletes}: {summary}"

        # never two backups of one share in creating
        assert not overlaps, f"shares with two backups in creating: {overlaps[:5]}"
        by_share = collections.defaultdict(list)
        for backup_id in created:
            by_share[rows[backup_id]["share_id"]].append(rows[backup_id])
        for share_id, made in by_share.items():
            made.sort(key=lambda r: r["created_at"])
            for before, after in zip(made, made[1:]):
                # `after` was inserted once the share was available again, i.e. after the job of
                # `before` committed its end state (updated_at is set in that transaction)
                assert before["updated_at"] is not None and before["updated_at"] <= after["created_at"], (
                    f"share {share_key[share_id]}: backup {after['id']} created at {after['created_at']} while "
                    f"{before['id']} (created {before['created_at']}) was creating until {before['updated_at']}")

        # every 202 is one row that finished; no row nobody was told about
        seed_ids = set(seeds.values())
        assert set(rows) == seed_ids | set(created), (
            f"rows no request returned: {sorted(set(rows) - seed_ids - set(created))}; "
            f"202s without a row: {sorted(set(created) - set(rows))}")
        for backup_id in created:
            row = rows[backup_id]
            assert not row["deleted"], row
            assert row["status"] == "available" or (row["status"] == "error" and row["fail_reason"]), row
            assert row["size"] == SHARE_SIZES[share_key[row["share_id"]]], row

        # every accepted delete removed exactly that backup
        for backup_id in victims:
            assert rows[backup_id]["deleted"] and rows[backup_id]["status"] == "deleted", rows[backup_id]
            for api in range(apis):
                assert client.backup(api, backup_id) is None, f"deleted backup {backup_id} still shown on API {api}"
        for api in range(apis):
            listed = {b["id"] for b in client.ok(api, "GET", "/share-backups")["share_backups"]}
            assert listed == {r["id"] for r in live}, f"API {api} lists {sorted(listed)}"
            assert not listed & victims
        for backup_id in kept:
            assert not rows[backup_id]["deleted"] and rows[backup_id]["status"] == "available", rows[backup_id]

        # nothing left moving
        assert not [r for r in live if r["status"] in ("creating", "deleting", "restoring")], live
        assert all(s["status"] == "available" for s in share_rows.values()), share_rows
        assert not db.rows("SELECT id FROM jobs WHERE state IN ('queued', 'running')"), "jobs left in the queue"

        # the jobs: one create job per row, one delete job per accepted delete. A job put off
        # because the repository was locked (a delete's exclusive lock) is the same job queued
        # again (LeaseQueue.retry_later), its payload counting the times in "lock_retries": it
        # was counted out here once, which failed the test whenever a create met a delete's lock
        def per_backup(kind: str) -> collections.Counter:
            return collections.Counter(j["resource_id"] for j in jobs if j["kind"] == kind)
        create_jobs, delete_jobs = per_backup("share_backup.create"), per_backup("share_backup.delete")
        assert create_jobs == collections.Counter(set(rows)), (
            f"create jobs per backup: {dict(create_jobs)} for rows {sorted(rows)}")
        assert delete_jobs == collections.Counter(victims), f"delete jobs per backup: {dict(delete_jobs)}"
        retries = collections.Counter((j["kind"], j["resource_id"], j["payload"]["lock_retries"])
                                      for j in jobs if "lock_retries" in j["payload"])
        assert all(n == 1 for n in retries.values()), f"a lock retry was queued twice: {retries}"
        assert {j["resource_id"] for j in jobs} <= set(rows), jobs
        unfinished = [j for j in jobs if j["state"] != "done"
                      and not (j["state"] == "failed" and rows[j["resource_id"]]["status"] == "error")]
        assert not unfinished, f"jobs not done: {unfinished}"

        # the quota equals the rows, on every API process
        for api, quota in enumerate(quotas):
            assert quota["backups"] == {"in_use": len(live), "limit": QUOTA["backups"], "reserved": 0}, \
                f"API {api}: {quota['backups']} for {len(live)} live rows"
            assert quota["backup_gigabytes"] == {"in_use": sum(r["size"] for r in live),
                                                 "limit": QUOTA["backup_gigabytes"], "reserved": 0}, \
                f"API {api}: {quota['backup_gigabytes']} for {sum(r['size'] for r in live)} GiB of live rows"
        assert len(live) <= QUOTA["backups"] and sum(r["size"] for r in live) <= QUOTA["backup_gigabytes"], summary
    finally:
        burst_over.set()
        for proc in reversed(procs):
            proc.stop()
        if db is not None:
            db.dispose()
        if backend == "postgres":
            drop_pg_database(db_url)


# -- the connections themselves --------------------------------------------------------------------

def listen_backlog(port: int) -> int | None:
    """The listening socket's backlog (`ss`'s Send-Q for a LISTEN socket), None without `ss`."""
    try:
        out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, timeout=10)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None
    fields = out.stdout.split()
    return int(fields[2]) if out.returncode == 0 and len(fields) > 2 else None


def test_api_listen_backlog(tmp_path):
    """50 simultaneous POSTs from urllib to one API process are all answered (here 400, no such share).

    cheroot's default listen backlog (5) made the kernel reset some of them before the server read
    them (the concurrency test found it); `sharebackup serve` now listens with a backlog of 4096."""
    (tmp_path / "home").mkdir()
    conf = tmp_path / "sharebackup.conf"
    conf.write_text(f"[DEFAULT]\nstate_dir = {tmp_path / 'state'}\nauth_strategy = noauth\n")
    port = free_port()
    api = Proc("api", ["serve", "--config", str(conf), "--workers", "0", "--host", "127.0.0.1", "--port", str(port)],
               tmp_path / "api.log", tmp_path / "home").start()
    try:
        assert poll(lambda: answering(api, port), 30, 0.2), api.log.read_text(errors="replace")[-3000:]
        backlog = listen_backlog(port)
        assert backlog is None or backlog >= 128, f"the API listens with a backlog of {backlog}"
        outcomes: list[object] = []
        barrier = threading.Barrier(BURST)

        def post() -> None:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/v2/share-backups", method="POST",
                                         data=json.dumps({"share_backup": {"share_id": "no-such-share"}}).encode(),
                                         headers={"X-Auth-Token": TOKEN, "Content-Type": "application/json",
                                                  "X-OpenStack-Manila-API-Version": VERSION})
            barrier.wait(30)
            try:
                with urllib.request.urlopen(req, timeout=60) as resp:
                    outcomes.append(resp.status)
            except urllib.error.HTTPError as exc:
                outcomes.append(exc.code)
            except OSError as exc:
                outcomes.append(f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=post, daemon=True) for _ in range(BURST)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert outcomes == [400] * BURST, f"answers: {collections.Counter(map(str, outcomes))}"
    finally:
        api.stop()
