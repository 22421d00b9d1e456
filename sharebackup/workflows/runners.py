"""The registry of job kinds and the runner for each."""
from __future__ import annotations


def build_runners(rt) -> dict:
    runners: dict = {}
    from sharebackup.workflows import share_jobs
    runners.update(share_jobs.runners(rt))
    from sharebackup.workflows import snapshot_jobs
    runners.update(snapshot_jobs.runners(rt))
    from sharebackup.workflows import backup_jobs
    runners.update(backup_jobs.runners(rt))
    from sharebackup.workflows import gc_jobs
    runners.update(gc_jobs.runners(rt))
    return runners
