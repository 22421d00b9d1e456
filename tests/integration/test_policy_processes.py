"""Backup policies on real processes and real time: 2 API processes (`serve --workers 0`) and
2 `sharebackup worker` processes on one PostgreSQL database, `min_interval_seconds = 5`.

A `PT5S` policy with `keep_last: 3` protects 3 shares for 60 s; then it is disabled (no new
runs; retention still applies to what it made) and the test waits until nothing is in flight.
Then, on the API and in the rows:
- every share has exactly 3 policy backups `available`, and none in `error`;
- no (policy, share, scheduled time) appears twice, and no run made two backups;
- the run history (paged through the API) names every pruned backup, once: exactly the
  policy's backups that are deleted;
- the quota usage is exact: in use = the live backup rows, nothing reserved.
The second run of the test SIGKILLs a worker while it runs a backup, and expects the same end.
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import create_pg_database, drop_pg_database, require_pg
from tests.integration.server_process import free_port, upgrade_database
from tests.integration.test_fault_recovery import Db, Proc, answering, poll

pytestmark = [pytest.mark.scale, pytest.mark.postgres]

PROJECT, TOKEN = "polproj", "paula:polproj"  # noauth: user:project
RUN_FOR = 60.0
KEEP = 3

CONFIG = """\
[DEFAULT]
state_dir = {state}
auth_strategy = noauth
workers = 2

[database]
connection = {db_url}

[quota]
backups = 200
backup_gigabytes = 2000

[backup]
job_lease_seconds = 3
gc_interval_seconds = 0

[policies]
min_interval_seconds = 5
scheduler_tick_seconds = 1
"""


class Client:
    def __init__(self, roots: list[str]):
        self.roots = roots
        self.calls = 0

    def call(self, method: str, path: str, body=None, expect=(200, 201, 202, 204)):
        """Alternates between the API processes; `path` starts with /v2 or /sharebackup."""
        root = self.roots[self.calls % len(self.roots)]
        self.calls += 1
        request = urllib.request.Request(root + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"X-Auth-Token": TOKEN, "Content-Type": "application/json",
                                                  "X-OpenStack-Manila-API-Version": "2.91"})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status, text = answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read()
        assert status in expect, f"{method} {path}: {status} {text[:500]!r}"
        return json.loads(text) if text else None


def _start(tmp_path: Path, db_url: str) -> tuple[list[Proc], Client]:
    state, logs, home = tmp_path / "state", tmp_path / "logs", tmp_path / "home"
    for directory in (state, logs, home):
        directory.mkdir()
    conf = tmp_path / "sharebackup.conf"
    conf.write_text(CONFIG.format(state=state, db_url=db_url))
    upgrade_database(conf, home)
    ports = [free_port(), free_port()]
    apis = [Proc(f"api{i + 1}", ["serve", "--config", str(conf), "--workers", "0", "--host", "127.0.0.1",
                                 "--port", str(port)], logs / f"api{i + 1}.log", home).start()
            for i, port in enumerate(ports)]
    workers = [Proc(f"worker{i + 1}", ["worker", "--config", str(conf)], logs / f"worker{i + 1}.log", home).start()
               for i in range(2)]
    for proc, port in zip(apis, ports):
        assert poll(lambda proc=proc, port=port: answering(proc, port), 30, 0.2), f"{proc.name} did not answer"
    return apis + workers, Client([f"http://127.0.0.1:{port}" for port in ports])


def _share(client: Client, db: Db, name: str) -> str:
    share = client.call("POST", "/v2/shares", {"share": {"share_proto": "NFS", "size": 1, "name": name}})["share"]
    assert poll(lambda: client.call("GET", f"/v2/shares/{share['id']}")["share"]["status"] == "available", 60)
    path = Path(client.call("GET", f"/v2/shares/{share['id']}/export_locations")["export_locations"][0]["path"])
    for i in range(20):
        (path / f"file{i}.txt").write_text(f"{name} {i}\n" * 200)
    return share["id"]


def _kill_a_worker_mid_backup(procs: list[Proc], db: Db) -> str:
    """SIGKILL the worker whose log shows it started a backup job that is still running."""
    workers = [p for p in procs if p.name.startswith("worker")]

    def victim():
        running = db.rows("SELECT resource_id FROM jobs WHERE kind = 'share_backup.create' AND state = 'running'")
        return next((w for row in running for w in workers if w.log_lines(row["resource_id"])), None)
    chosen = poll(victim, 30, 0.05)
    assert chosen, "no worker was seen running a backup job within 30 s"
    chosen.kill()
    return chosen.name


def _quiet(db: Db, policy_id: str) -> bool:
    """Nothing in flight: no backup creating or deleting, no job waiting, retention caught up."""
    busy = db.rows("SELECT count(*) AS n FROM share_backups WHERE deleted = false AND status IN "
                   "('creating', 'deleting')")[0]["n"]
    jobs = db.rows("SELECT count(*) AS n FROM jobs WHERE state IN ('queued', 'running')")[0]["n"]
    pending = db.rows("SELECT count(*) AS n FROM backup_policy_runs r JOIN share_backups b ON b.id = r.backup_id "
                      "WHERE r.policy_id = :p AND r.retention_done = false", p=policy_id)[0]["n"]
    return busy == 0 and jobs == 0 and pending == 0


def _all_runs(client: Client, policy_id: str) -> list[dict]:
    runs, marker = [], None
    while True:
        query = f"?limit=7&marker={marker}" if marker else "?limit=7"
        page = client.call("GET", f"/sharebackup/v1/backup-policies/{policy_id}/runs{query}")
        runs += page["backup_policy_runs"]
        if "backup_policy_runs_links" not in page:
            return runs
        marker = page["backup_policy_runs"][-1]["id"]


def _check_end_state(client: Client, db: Db, policy_id: str, shares: list[str]) -> dict:
    backups = db.rows("SELECT id, share_id, status, deleted, policy_run_id FROM share_backups WHERE policy_id = :p",
                      p=policy_id)
    live = [b for b in backups if not b["deleted"]]
    for share_id in shares:
        mine = [b for b in live if b["share_id"] == share_id]
        assert sorted(b["status"] for b in mine) == ["available"] * KEEP, (share_id, mine)
        listed = client.call("GET", f"/v2/share-backups/detail?share_id={share_id}")["share_backups"]
        assert sorted(b["id"] for b in listed) == sorted(b["id"] for b in mine)
    slots = db.rows("SELECT share_id, scheduled_at, count(*) AS n FROM backup_policy_runs WHERE policy_id = :p "
                    "GROUP BY share_id, scheduled_at HAVING count(*) > 1", p=policy_id)
    assert slots == []
    per_run = db.rows("SELECT policy_run_id, count(*) AS n FROM share_backups WHERE policy_id = :p "
                      "GROUP BY policy_run_id HAVING count(*) > 1", p=policy_id)
    assert per_run == []
    runs = _all_runs(client, policy_id)
    assert [r["scheduled_at"] for r in runs] == sorted((r["scheduled_at"] for r in runs), reverse=True)
    pruned = [backup_id for run in runs for backup_id in run["pruned_backup_ids"]]
    deleted = {b["id"] for b in backups if b["deleted"]}
    assert len(pruned) == len(set(pruned)) and set(pruned) == deleted
    made = [r for r in runs if r["state"] == "backup_created"]
    assert len(made) == len(backups)
    usage = client.call("GET", f"/v2/quota-sets/{PROJECT}/detail")["quota_set"]["backups"]
    rows = db.rows("SELECT count(*) AS n FROM share_backups WHERE project_id = :p AND deleted = false", p=PROJECT)
    assert (usage["in_use"], usage["reserved"]) == (rows[0]["n"], 0) == (KEEP * len(shares), 0)
    return {"runs": len(runs), "made": len(made), "pruned": len(pruned),
            "skipped": sum(r["state"] == "skipped" for r in runs)}


@pytest.mark.parametrize("kill_a_worker", [False, True], ids=["steady", "worker-killed"])
def test_a_pt5s_policy_on_two_apis_and_two_workers(tmp_path, kill_a_worker):
    require_pg()
    db_url = create_pg_database()
    procs: list[Proc] = []
    db = Db(db_url)
    try:
        procs, client = _start(tmp_path, db_url)
        shares = [_share(client, db, f"pol-{i}") for i in range(3)]
        policy = client.call("POST", "/sharebackup/v1/backup-policies", {"backup_policy": {
            "name": "every5s", "schedule": "PT5S", "retention": {"keep_last": KEEP}}})["backup_policy"]
        for share_id in shares:
            client.call("POST", f"/sharebackup/v1/backup-policies/{policy['id']}/shares", {"share_id": share_id})
        started = time.monotonic()
        killed = _kill_a_worker_mid_backup(procs, db) if kill_a_worker else None
        time.sleep(max(0.0, RUN_FOR - (time.monotonic() - started)))
        client.call("PUT", f"/sharebackup/v1/backup-policies/{policy['id']}", {"backup_policy": {"enabled": False}})
        assert poll(lambda: _quiet(db, policy["id"]) and _quiet(db, policy["id"]), 120, 0.5), \
            "still busy 120 s after the policy was disabled"
        summary = _check_end_state(client, db, policy["id"], shares)
        assert summary["made"] >= 3 * 5, summary  # it really ran: 12 slots a share in 60 s, some skipped when busy
        print(f"POLICY PROCESSES killed={killed} {summary}")
    finally:
        for proc in procs:
            proc.kill()
        db.dispose()
        drop_pg_database(db_url)
