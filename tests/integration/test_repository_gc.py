"""Garbage collection against real workers and real processes: backups of several shares writing
into one repository while a gc job runs, and a `sharebackup repo gc --name` killed with SIGKILL."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from sharebackup import engine
from sharebackup.db.models import Job, ShareBackup
from sharebackup.workflows import backup_repository, gc_jobs, repository_lease as leases
from sharebackup.workflows.backup_jobs import CREATE, DELETE, runners as backup_runners
from sharebackup.queue.lease_queue import Claim, LeaseQueue, enqueue
from sharebackup.workflows.runners import build_runners
from sharebackup.queue.worker_pool import WorkerPool
from tests.conftest import make_runtime
from tests.engine.helpers import snapshot_of_tree
from tests.unit.test_backup_jobs import _backup, _create, _get, _set, _share
from tests.unit.test_repository_gc import _files


def _wait(predicate, timeout=120.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _delete(rt, backup_id):
    _set(rt, ShareBackup, backup_id, status="deleting")
    backup_runners(rt)[DELETE](Claim("setup", DELETE, backup_id, {}, 1, False), lambda: True)


def _pack_names(repo):
    return {i.name for i in repo.store.list("data/")}


def _restores_match(rt, repo, backups, dirs, tmp_path):
    for backup_id, share_dir in zip(backups, dirs):
        out = tmp_path / f"restored-{backup_id}"
        engine.restore(repo, _get(rt, ShareBackup, backup_id).engine_snapshot_id, str(out))
        assert snapshot_of_tree(str(out)) == snapshot_of_tree(str(share_dir))


def test_backups_of_several_shares_and_a_gc_job_share_one_repository(tmp_path):
    rt = make_runtime(tmp_path / "state")
    rt.config = dataclasses.replace(rt.config, backup=dataclasses.replace(
        rt.config.backup, job_lease_seconds=1.0, gc_grace_seconds=0.0, gc_drain_seconds=120.0))
    try:
        dirs = [_files(tmp_path / f"share{i}", count=6, size=1_500_000) for i in range(4)]
        shares = [_share(rt, d) for d in dirs]
        for share_id in shares:  # garbage: a backup of contents that go away, then deleted
            _delete(rt, _create(rt, share_id))
        repo = backup_repository.open_repository(rt.config, "default")
        garbage = _pack_names(repo)
        assert garbage and repo.snapshot_ids() == []
        for d in dirs:
            _files(d, count=6, size=1_500_000)  # new contents for the backups under test

        backups = [_backup(rt, share_id) for share_id in shares]

        def queue_backups(pairs):
            with rt.db.transaction() as session:
                for share_id, backup_id in pairs:
                    enqueue(session, CREATE, backup_id, {"share_id": share_id, "backup_options": {}})

        # three backups, then gc (a free thread meets them running: it must hold the fourth back and
        # wait for the three), then the fourth
        queue_backups(list(zip(shares, backups))[:3])
        with rt.db.transaction() as session:
            job = enqueue(session, gc_jobs.KIND, "default", {"repository": "default"})
            session.flush()
            gc_job = job.id
        queue_backups(list(zip(shares, backups))[3:])
        pool = WorkerPool(lambda owner: LeaseQueue(rt.db, owner, 1.0), build_runners(rt), threads=4,
                          poll_seconds=0.05)
        pool.start()
        try:
            _wait(lambda: all(_get(rt, ShareBackup, b).status == "available" for b in backups), 300, "the backups")
            _wait(lambda: _get(rt, Job, gc_job).state in ("done", "failed"), 300, "the gc job")
        finally:
            pool.stop(60)
        assert _get(rt, Job, gc_job).state == "done", _get(rt, Job, gc_job).last_error
        assert leases.last_finished(rt.db, "default") is not None
        with rt.db.reader() as session:
            failed = session.scalars(select(Job).where(Job.state == "failed")).all()
        assert failed == []

        repo = backup_repository.open_repository(rt.config, "default")
        assert garbage.isdisjoint(_pack_names(repo))  # the deleted backups' data is gone
        assert sorted(repo.snapshot_ids()) == sorted(_get(rt, ShareBackup, b).engine_snapshot_id for b in backups)
        assert engine.check(repo, read_data=True).ok
        _restores_match(rt, repo, backups, dirs, tmp_path)
    finally:
        rt.db.dispose()


def _cli(state, *argv, env):
    return [sys.executable, "-m", "sharebackup.cli.main", "repo", *argv, "--name", "default", "--state-dir",
            str(state)]


def _run_cli(state, env, *argv):
    return subprocess.run(_cli(state, *argv, env=env), env=env, capture_output=True, text=True, timeout=180)


def _exclusive_gc_lock(repo) -> bool:
    for info in repo.store.list("locks/"):
        try:
            doc = json.loads(repo.store.get(info.name))
        except Exception:  # noqa: BLE001 - half written or gone: not this one
            continue
        if doc.get("exclusive") and doc.get("purpose") == "gc":
            return True
    return False


@pytest.mark.slow
@pytest.mark.parametrize("kill_when", ["waiting for running backups", "holding the exclusive lock"])
def test_repo_gc_killed_with_sigkill_leaves_a_consistent_repository(tmp_path, kill_when):
    state = tmp_path / "state"
    rt = make_runtime(state)
    env = {**os.environ, "SHAREBACKUP_BACKUP__JOB_LEASE_SECONDS": "1"}  # leases of 10 s (the minimum)
    rt.config = dataclasses.replace(rt.config, backup=dataclasses.replace(rt.config.backup, job_lease_seconds=1.0))
    proc = None
    try:
        dirs = [_files(tmp_path / f"share{i}", count=6, size=400_000) for i in range(3)]
        shares = [_share(rt, d) for d in dirs]
        for share_id in shares:
            for _ in range(3):  # plenty of garbage, so gc has many objects to delete
                _delete(rt, _create(rt, share_id))
                _files(tmp_path / f"share{shares.index(share_id)}", count=6, size=400_000)
        backups = [_create(rt, share_id) for share_id in shares]
        repo = backup_repository.open_repository(rt.config, "default")
        running = repo.lock(exclusive=False, purpose="backup")  # a backup still running

        proc = subprocess.Popen(_cli(state, "gc", "--grace", "0", "--wait", "120", env=env), env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        _wait(lambda: leases.held_by_other(rt.db, "default") is not None, 60, "gc to take the lease")
        if kill_when == "holding the exclusive lock":
            running.release()
            _wait(lambda: _exclusive_gc_lock(repo) or proc.poll() is not None, 60, "gc to take the lock")
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) in (-signal.SIGKILL, 0)  # 0: it had already finished (also fine)
        if running.name:
            running.release()

        if proc.returncode != 0:  # the dead collector's lease blocks the next one until it runs out
            again = _run_cli(state, env, "gc", "--grace", "0")
            assert again.returncode == 1 and "held for gc by cli:" in again.stderr, again.stderr
            _wait(lambda: leases.held_by_other(rt.db, "default") is None, 60, "the lease to run out")

        def check_ok():
            result = _run_cli(state, env, "check", "--read-data")
            assert "Traceback" not in result.stderr
            return result.returncode == 0 and "no errors found" in result.stdout
        _wait(check_ok, 60, "repo check to pass (the dead gc's repository lock runs out first)")

        final = _run_cli(state, env, "gc", "--grace", "0", "--wait", "60")
        assert final.returncode == 0, final.stderr
        assert leases.held_by_other(rt.db, "default") is None
        result = _run_cli(state, env, "check", "--read-data-subset", "100%")
        assert result.returncode == 0 and "no errors found" in result.stdout
        repo = backup_repository.open_repository(rt.config, "default")
        assert sorted(repo.snapshot_ids()) == sorted(_get(rt, ShareBackup, b).engine_snapshot_id for b in backups)
        _restores_match(rt, repo, backups, dirs, tmp_path)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        rt.db.dispose()
