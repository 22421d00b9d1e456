"""`sharebackup worker`: runs backup jobs without the API, stops cleanly on SIGTERM, hands back
unfinished jobs."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from sharebackup.db.models import Job, Share, ShareBackup
from sharebackup.jobs.lease_queue import QUEUED, RUNNING, enqueue
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
    from sharebackup.cli.worker import Worker
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
