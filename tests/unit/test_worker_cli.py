"""`sharebackup worker`: runs backup jobs without the API, stops cleanly on SIGTERM, hands back
unfinished jobs."""
from __future__ import annotations

import os
import socket
import signal
import subprocess
import sys
import threading
import time

from sqlalchemy import select

from sharebackup.db.models import Job, Share, ShareBackup
from sharebackup.queue.lease_queue import QUEUED, RUNNING, enqueue
from tests.unit.test_backup_jobs import _get, queue_small_backup


def _wait(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_worker_process_runs_a_backup_and_stops_on_sigterm(tmp_path):
    rt, state, share_id, backup_id = queue_small_backup(tmp_path)
    env = {**os.environ, "SHAREBACKUP_AUTH_STRATEGY": "noauth"}
    proc = subprocess.Popen([sys.executable, "-m", "sharebackup.cli.main", "worker", "--state-dir", str(state),
                             "--threads", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait(lambda: _get(rt, ShareBackup, backup_id).status == "available")
        assert _get(rt, Share, share_id).status == "available"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        rt.db.dispose()
    assert b"sharebackup worker: 1 thread(s)" in proc.stdout.read()


def test_stop_hands_unfinished_jobs_back(sqlite_runtime):
    from sharebackup.workflows.worker_host import WorkerHost as Worker
    rt = sqlite_runtime
    started, release = threading.Event(), threading.Event()

    def slow(claim, heartbeat):
        started.set()
        release.wait(10)

    with rt.db.transaction() as session:
        job = enqueue(session, "test.slow", "resource")
        session.flush()
        job_id = job.id
    worker = Worker(rt, threads=1, grace=0.2, runners={"test.slow": slow}, poll_seconds=0.02)
    worker.start()
    try:
        assert started.wait(10)
        with rt.db.reader() as session:
            assert session.get(Job, job_id).state == RUNNING
        assert worker.stop() == 1
        with rt.db.reader() as session:
            job = session.get(Job, job_id)
            assert (job.state, job.lease_owner, job.attempts) == (QUEUED, None, 0)
    finally:
        release.set()


def _serve(state, port: int, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sharebackup.cli.main", "serve", "--state-dir", str(state),
                             "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--auth", "noauth"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _job(rt, backup_id) -> Job:
    with rt.db.reader() as session:
        return session.scalars(select(Job).where(Job.resource_id == backup_id)).one()


def test_serve_stopped_with_sigterm_hands_its_running_job_back_at_once(tmp_path):
    """Issue 9: `serve` stopped nothing but its HTTP loop, so a job it was running kept its
    lease (here 300 s) and sat in `creating` until the lease ran out. Now it is queued again
    as serve exits, and a worker started right after finishes it."""
    from tests.integration.server_process import free_port
    rt, state, share_id, backup_id = queue_small_backup(tmp_path)
    env = {**os.environ, "SHAREBACKUP_BACKUP__JOB_LEASE_SECONDS": "300"}
    proc = _serve(state, free_port(), {**env, "SHAREBACKUP_BACKUP_CREATE_DELAY": "120", "SHAREBACKUP_ENABLE_TEST_HOOKS": "true"})
    try:
        _wait(lambda: _job(rt, backup_id).state == RUNNING)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        job = _job(rt, backup_id)
        assert (job.state, job.lease_owner, job.attempts) == (QUEUED, None, 0), proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    worker = subprocess.Popen([sys.executable, "-m", "sharebackup.cli.main", "worker", "--state-dir", str(state),
                               "--threads", "1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(lambda: _get(rt, ShareBackup, backup_id).status == "available", timeout=60)  # lease: 300 s
        assert _get(rt, Share, share_id).status == "available"
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        rt.db.dispose()


def test_a_second_serve_on_a_busy_port_says_so_in_one_line_and_claims_nothing(tmp_path):
    """Issue 9: `serve` started its workers before it bound its port, so a second `make run`
    claimed a job and then died with a traceback, leaving the job to wait out its lease."""
    rt, state, _share_id, backup_id = queue_small_backup(tmp_path)
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        proc = _serve(state, busy.getsockname()[1], dict(os.environ))
        out, err = proc.communicate(timeout=60)
    finally:
        busy.close()
    assert proc.returncode == 1
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and "cannot listen on 127.0.0.1:" in lines[0], err.decode()
    assert b"Admin token" not in out
    job = _job(rt, backup_id)
    assert (job.state, job.lease_owner, job.attempts) == (QUEUED, None, 0)
    assert _get(rt, ShareBackup, backup_id).status == "creating"
    rt.db.dispose()


def test_ctrl_c_says_what_the_stop_waits_for_and_a_second_one_stops_at_once(tmp_path):
    """Issue 10: Ctrl-C with a long job waited without a word. The first says what it waits
    for; a second hands the job back at once and ends the process."""
    rt, state, share_id, backup_id = queue_small_backup(tmp_path)
    env = {**os.environ, "SHAREBACKUP_BACKUP__JOB_LEASE_SECONDS": "300", "SHAREBACKUP_BACKUP_CREATE_DELAY": "120",
           "SHAREBACKUP_ENABLE_TEST_HOOKS": "true"}
    proc = subprocess.Popen([sys.executable, "-m", "sharebackup.cli.main", "worker", "--state-dir", str(state),
                             "--threads", "1", "--grace", "60"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        _wait(lambda: _job(rt, backup_id).state == RUNNING)
        proc.send_signal(signal.SIGINT)
        first = ""
        while "stopping (" not in first:  # the log lines come on stderr too
            first = proc.stderr.readline()
            assert first, "the worker ended without saying why"
        assert "stopping (SIGINT): waiting up to 60 s for 1 running job(s), then handing them back" in first
        assert "Ctrl-C again to stop at once" in first
        assert proc.poll() is None  # still waiting for its job
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 130
        assert "stopping now: 1 job(s) handed back to the queue" in proc.stderr.read()
        job = _job(rt, backup_id)
        assert (job.state, job.lease_owner, job.attempts) == (QUEUED, None, 0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        rt.db.dispose()
