"""Prometheus metrics: request counters by route template, job counters from the worker pool,
queue gauges read at scrape time, one registry per process (several apps in one test process)."""
from __future__ import annotations

import datetime as dt
import time

import pytest
from falcon import testing
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from sharebackup.api.app import make_app
from sharebackup.db.models import Job, ShareBackup, utcnow
from sharebackup.workflows.backup_jobs import CREATE
from sharebackup.queue.lease_queue import QUEUED, RUNNING, LeaseQueue, enqueue
from sharebackup.queue.metrics import build_registry
from sharebackup.workflows.runners import build_runners
from sharebackup.queue.worker_pool import WorkerPool
from tests.conftest import make_runtime
from tests.unit.test_backup_jobs import _backup, _get, _share, queue_small_backup

DEMO = {"x-auth-token": "demo:demo"}


def _wait(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _scrape(client) -> dict:
    """{(name, sorted label items): value} from GET /metrics."""
    resp = client.simulate_get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain; version=")
    out = {}
    for family in text_string_to_metric_families(resp.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def rt(tmp_path):
    rt = make_runtime(tmp_path / "state")
    yield rt
    rt.db.dispose()


@pytest.fixture
def process(rt):
    """What `sharebackup serve` builds: one registry for the app and the worker pool."""
    registry, job_metrics = build_registry(rt.db)
    return registry, job_metrics, testing.TestClient(make_app(rt, registry))


def _pool(rt, job_metrics, runners) -> WorkerPool:
    return WorkerPool(lambda owner: LeaseQueue(rt.db, owner, 30.0), runners, threads=1, poll_seconds=0.02,
                      metrics=job_metrics)


def _job_state(rt, job_id):
    with rt.db.reader() as session:
        return session.get(Job, job_id).state


def test_request_counters_use_the_route_template(process):
    _registry, _jobs, client = process
    client.simulate_get("/v2/shares", headers=DEMO)
    client.simulate_get("/v2/demo/shares.json", headers=DEMO)  # project id and .json do not make new series
    client.simulate_get("/v2/shares/11111111-1111-1111-1111-111111111111", headers=DEMO)
    client.simulate_get("/v2/shares/22222222-2222-2222-2222-222222222222", headers=DEMO)
    client.simulate_get("/v2/shares")  # no token: noauth's 204, answered before routing
    client.simulate_get("/v2/alt/shares", headers=DEMO)  # another project in the URL: 400 before routing
    client.simulate_get("/no/such/path/123")
    client.simulate_get("/healthcheck")
    samples = _scrape(client)
    count = "sharebackup_http_requests_total"
    assert _value(samples, count, method="GET", route="/v2/shares", status="200") == 2
    assert _value(samples, count, method="GET", route="/v2/shares", status="204") == 1
    assert _value(samples, count, method="GET", route="/v2/shares", status="400") == 1
    assert _value(samples, count, method="GET", route="/v2/shares/{share_id}", status="404") == 2
    assert _value(samples, count, method="GET", route="unmatched", status="404") == 1
    assert _value(samples, count, method="GET", route="/healthcheck", status="200") == 1
    assert _value(samples, "sharebackup_http_request_duration_seconds_count", method="GET",
                  route="/v2/shares") == 4
    routes = {dict(labels).get("route") for (_name, labels) in samples}
    assert not any("1111" in (r or "") or "demo" in (r or "") for r in routes)  # no ids in labels
    # the scrape itself is counted on the next scrape
    assert _value(_scrape(client), count, method="GET", route="/metrics", status="200") == 1


def test_metrics_need_no_auth_and_can_be_turned_off(tmp_path):
    rt = make_runtime(tmp_path / "state", auth_strategy="tokens")
    try:
        assert testing.TestClient(make_app(rt)).simulate_get("/metrics").status_code == 200
    finally:
        rt.db.dispose()
    off = make_runtime(tmp_path / "off", metrics_enabled=False)
    try:
        resp = testing.TestClient(make_app(off)).simulate_get("/metrics")
        assert resp.status_code == 404
        assert "itemNotFound" in resp.json
    finally:
        off.db.dispose()


def test_each_app_has_its_own_registry(rt):
    first, second = testing.TestClient(make_app(rt)), testing.TestClient(make_app(rt))
    first.simulate_get("/healthcheck")
    first.simulate_get("/healthcheck")
    second.simulate_get("/healthcheck")
    count = "sharebackup_http_requests_total"
    assert _value(_scrape(first), count, method="GET", route="/healthcheck", status="200") == 2
    assert _value(_scrape(second), count, method="GET", route="/healthcheck", status="200") == 1


def test_job_counters_move_when_the_pool_runs_jobs(rt, process):
    registry, job_metrics, client = process

    def ok(claim, heartbeat):
        assert heartbeat()

    def boom(claim, heartbeat):
        raise RuntimeError("kaput")

    gave_up = []
    boom.give_up = lambda claim, reason: gave_up.append(claim.id)
    with rt.db.transaction() as session:
        ids = [enqueue(session, "test.ok", "r1"), enqueue(session, "test.ok", "r2"), enqueue(session, "test.boom", "r3")]
        exhausted = enqueue(session, "test.boom", "r4", max_attempts=1)
        exhausted.attempts = 1
        session.flush()
        ids = [job.id for job in ids] + [exhausted.id]
    pool = _pool(rt, job_metrics, {"test.ok": ok, "test.boom": boom})
    pool.start()
    try:
        _wait(lambda: all(_job_state(rt, job_id) not in (QUEUED, RUNNING) for job_id in ids))
    finally:
        pool.stop()
    # given up: the job whose attempts ran out, and the one whose runner raised (its job is
    # failed, so its resource must not wait for it)
    assert sorted(gave_up) == sorted([ids[2], ids[3]])
    samples = _scrape(client)
    assert _value(samples, "sharebackup_jobs_claimed_total", kind="test.ok") == 2
    assert _value(samples, "sharebackup_jobs_completed_total", kind="test.ok") == 2
    assert _value(samples, "sharebackup_jobs_claimed_total", kind="test.boom") == 2
    assert _value(samples, "sharebackup_jobs_failed_total", kind="test.boom") == 2  # raised + attempts exhausted
    assert _value(samples, "sharebackup_jobs_completed_total", kind="test.boom") == 0
    assert _value(samples, "sharebackup_job_duration_seconds_count", kind="test.ok") == 2
    assert _value(samples, "sharebackup_job_lease_takeovers_total", kind="test.ok") == 0
    # the same numbers straight from the registry (what a worker-only process serves)
    assert registry.get_sample_value("sharebackup_jobs_completed_total", {"kind": "test.ok"}) == 2


def test_a_claim_of_an_expired_lease_is_a_takeover_and_a_retry(rt, process):
    _registry, job_metrics, client = process
    with rt.db.transaction() as session:
        job = enqueue(session, "test.ok", "r1")
        job.state, job.attempts, job.lease_owner = RUNNING, 1, "dead-host:0"
        job.lease_expires_at = utcnow() - dt.timedelta(seconds=5)
        session.flush()
        job_id = job.id
    pool = _pool(rt, job_metrics, {"test.ok": lambda claim, heartbeat: None})
    pool.start()
    try:
        _wait(lambda: _job_state(rt, job_id) == "done")
    finally:
        pool.stop()
    samples = _scrape(client)
    assert _value(samples, "sharebackup_job_lease_takeovers_total", kind="test.ok") == 1
    assert _value(samples, "sharebackup_jobs_retried_total", kind="test.ok") == 1
    assert _value(samples, "sharebackup_jobs_completed_total", kind="test.ok") == 1


def test_queue_gauges_are_read_from_the_database_at_scrape_time(rt, process):
    _registry, _jobs, client = process
    assert _value(_scrape(client), "sharebackup_jobs", state="queued", kind="test.x") == 0
    with rt.db.transaction() as session:
        enqueue(session, "test.x", "a")
        enqueue(session, "test.x", "b")
        running = enqueue(session, "test.y", "c")
        running.state = RUNNING
        done = enqueue(session, "test.x", "d")
        done.state = "done"
    samples = _scrape(client)
    assert _value(samples, "sharebackup_jobs", state="queued", kind="test.x") == 2
    assert _value(samples, "sharebackup_jobs", state="running", kind="test.y") == 1
    assert _value(samples, "sharebackup_jobs_scrape_error") == 0


def test_an_idle_queue_exports_zeros_for_every_kind(rt, process):
    """Issue 10: with nothing queued the gauge had no samples at all (no series to alert or graph on)."""
    from sharebackup.queue import kinds
    _registry, _jobs, client = process
    samples = _scrape(client)
    for kind in kinds.ALL:
        for state in ("queued", "running"):
            key = ("sharebackup_jobs", tuple(sorted({"state": state, "kind": kind}.items())))
            assert samples[key] == 0, key


def test_queue_gauges_survive_a_database_failure(rt, process, monkeypatch):
    _registry, _jobs, client = process

    def broken():
        raise RuntimeError("database gone")

    monkeypatch.setattr(rt.db, "reader", broken)
    samples = _scrape(client)
    assert _value(samples, "sharebackup_jobs_scrape_error") == 1


def test_a_real_backup_job_is_counted(rt, process, tmp_path):
    _registry, job_metrics, client = process
    share_dir = tmp_path / "share"
    share_dir.mkdir()
    (share_dir / "file").write_bytes(b"data" * 1000)
    share_id = _share(rt, share_dir, status="backup_creating")
    backup_id = _backup(rt, share_id)
    with rt.db.transaction() as session:
        enqueue(session, CREATE, backup_id, {"share_id": share_id, "backup_options": {}})
    pool = _pool(rt, job_metrics, build_runners(rt))
    pool.start()
    try:
        _wait(lambda: _get(rt, ShareBackup, backup_id).status == "available", timeout=60)
    finally:
        pool.stop()
    samples = _scrape(client)
    assert _value(samples, "sharebackup_jobs_claimed_total", kind=CREATE) == 1
    _wait(lambda: _value(_scrape(client), "sharebackup_jobs_completed_total", kind=CREATE) == 1)
    samples = _scrape(client)
    assert _value(samples, "sharebackup_backup_bytes_read_total", repository="default") == 4000
    assert 0 < _value(samples, "sharebackup_backup_bytes_written_total", repository="default") < 4000  # compressed
    assert _value(samples, "sharebackup_backup_bytes_deduplicated_total", repository="default") == 0  # first backup


def test_a_worker_process_serves_its_metrics_on_worker_metrics_port(tmp_path):
    import os
    import signal
    import socket
    import subprocess
    import sys
    import urllib.request

    rt, state, share_id, backup_id = queue_small_backup(tmp_path)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "SHAREBACKUP_AUTH_STRATEGY": "noauth", "SHAREBACKUP_WORKER_METRICS_PORT": str(port),
           "SHAREBACKUP_LOG_FORMAT": "json"}
    proc = subprocess.Popen([sys.executable, "-m", "sharebackup.cli.main", "worker", "--state-dir", str(state),
                             "--threads", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def scrape() -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                return resp.read().decode()
        except OSError:
            return ""

    try:
        _wait(lambda: _get(rt, ShareBackup, backup_id).status == "available", timeout=120)
        _wait(lambda: f'sharebackup_jobs_completed_total{{kind="{CREATE}"}} 1.0' in scrape(), timeout=120)
        assert 'sharebackup_http_requests_total' not in scrape()  # no API in this process
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        rt.db.dispose()
    assert f"metrics at http://127.0.0.1:{port}/metrics".encode() in proc.stdout.read()


def test_job_results_move_the_byte_counters_by_repository(rt, process):
    from sharebackup.queue.metrics import JobResult

    _registry, job_metrics, client = process
    summary = {"bytes_read": 700, "data_added": 300, "data_added_stored": 120, "total_bytes": 1000}
    result = JobResult.from_backup_summary("s3", summary)
    assert (result.read, result.written, result.deduplicated) == (700, 120, 700)  # 1000 - 300 new
    job_metrics.on_result(result)
    job_metrics.on_result(JobResult("default", restored=4096))
    samples = _scrape(client)
    assert _value(samples, "sharebackup_backup_bytes_read_total", repository="s3") == 700
    assert _value(samples, "sharebackup_backup_bytes_written_total", repository="s3") == 120
    assert _value(samples, "sharebackup_backup_bytes_deduplicated_total", repository="s3") == 700
    assert _value(samples, "sharebackup_restore_bytes_written_total", repository="default") == 4096
    assert _value(samples, "sharebackup_backup_bytes_read_total", repository="default") == 0


def test_the_pool_hands_a_runners_result_to_the_metrics(rt, process, caplog):
    from sharebackup.queue.metrics import JobResult
    caplog.set_level("INFO", logger="sharebackup.queue.worker_pool")

    _registry, job_metrics, client = process
    with rt.db.transaction() as session:
        job = enqueue(session, "test.bytes", "r1")
        session.flush()
        job_id = job.id

    def runner(claim, heartbeat):
        return JobResult("default", read=10, written=5, deduplicated=2)

    pool = _pool(rt, job_metrics, {"test.bytes": runner})
    pool.start()
    try:
        _wait(lambda: _job_state(rt, job_id) == "done")
    finally:
        pool.stop()
    _wait(lambda: _value(_scrape(client), "sharebackup_backup_bytes_written_total", repository="default") == 5)
    samples = _scrape(client)
    assert _value(samples, "sharebackup_backup_bytes_read_total", repository="default") == 10
    assert _value(samples, "sharebackup_backup_bytes_deduplicated_total", repository="default") == 2
    # and the job's last log line says what it moved (issue 10: a successful backup logged nothing)
    assert any(r.getMessage().startswith("job done: test.bytes of r1 after") and
               r.getMessage().endswith("attempt 1; read 10 bytes, written 5 bytes, deduplicated 2 bytes")
               for r in caplog.records)


def test_a_job_that_defers_its_work_is_counted_as_deferred_not_completed(rt, process):
    from sharebackup.workflows import repository_lease
    from sharebackup.workflows.backup_jobs import RESTORE

    _registry, job_metrics, client = process
    repository_lease.acquire(rt.db, "default", "gc:elsewhere", "gc", 60.0)  # a collection runs
    share_id = _share(rt, rt.config.state_path, status="backup_restoring")
    backup_id = _backup(rt, share_id)
    with rt.db.transaction() as session:
        session.get(ShareBackup, backup_id).status = "restoring"
        job = enqueue(session, RESTORE, backup_id, {"share_id": share_id})
        session.flush()
        job_id = job.id
    pool = _pool(rt, job_metrics, build_runners(rt))
    pool.start()
    try:  # the job is put off: back in the queue, counted once as deferred
        _wait(lambda: _value(_scrape(client), "sharebackup_jobs_deferred_total", kind=RESTORE) == 1)
    finally:
        pool.stop()
    assert _job_state(rt, job_id) == QUEUED
    samples = _scrape(client)
    assert _value(samples, "sharebackup_jobs_completed_total", kind=RESTORE) == 0
    assert _get(rt, ShareBackup, backup_id).status == "restoring"  # nothing done yet: it waits for gc
    with rt.db.reader() as session:
        queued = [j for j in session.scalars(select(Job).where(Job.resource_id == backup_id)) if j.state == QUEUED]
    assert len(queued) == 1 and queued[0].not_before is not None
