"""Run the gabbi YAML stories in-process against a fresh runtime per YAML file.

Each story file names ``fixtures: [APIFixture]``. The fixture builds a runtime (noauth
mode, so personas are plain tokens: ``admin:admin`` is admin, ``demo:demo`` a member of
project demo, ``alt:alt`` another project; send ``X-Roles: reader`` for a reader), starts
an in-process worker pool, and exposes the app to gabbi's intercept.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from gabbi import fixture

from sharebackup.api.app import make_app
from sharebackup.jobs.lease_queue import LeaseQueue
from sharebackup.jobs.runners import build_runners
from sharebackup.jobs.worker_pool import WorkerPool

GABBITS = Path(__file__).parent / "gabbits"


class _Current:
    app = None


def intercept():
    return lambda environ, start_response: _Current.app(environ, start_response)


def make_fixture(backend: str):
    class APIFixture(fixture.GabbiFixture):
        def start_fixture(self):
            from tests.conftest import create_pg_database, make_runtime, require_pg
            self.url = None
            if backend == "postgres":
                require_pg()
                self.url = create_pg_database()
            self.state = Path(tempfile.mkdtemp(prefix="sb-gabbi-"))
            manage_root = self.state / "adoptable"
            manage_root.mkdir()
            self.rt = make_runtime(self.state / "state", self.url,
                                   manage_allowed_roots=[str(manage_root)])
            self.pool = WorkerPool(lambda owner: LeaseQueue(self.rt.db, owner), build_runners(self.rt),
                                   threads=2, poll_seconds=0.05)
            self.pool.start()
            self.rt.wake_workers = self.pool.wake
            _Current.app = make_app(self.rt)

        def stop_fixture(self):
            self.pool.stop()
            self.rt.db.dispose()
            if self.url:
                from tests.conftest import drop_pg_database
                drop_pg_database(self.url)
            shutil.rmtree(self.state, ignore_errors=True)

    return APIFixture
