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
from sharebackup.queue.lease_queue import LeaseQueue
from sharebackup.workflows.runners import build_runners
from sharebackup.queue.worker_pool import WorkerPool

GABBITS = Path(__file__).parent / "gabbits"


class _Current:
    app = None
    runtime = None  # for fixtures that seed the database behind the API


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
            _Current.runtime = self.rt

        def stop_fixture(self):
            self.pool.stop()
            self.rt.db.dispose()
            if self.url:
                from tests.conftest import drop_pg_database
                drop_pg_database(self.url)
            shutil.rmtree(self.state, ignore_errors=True)

    return APIFixture


# The share, snapshot and export location StoredSurrogates seeds (fixed ids for the YAML).
SURROGATE_SHARE_ID = "5e1f0000-0000-4000-8000-00000000d800"
SURROGATE_SNAPSHOT_ID = "5e1f0000-0000-4000-8000-00000000d801"
SURROGATE_EXPORT_ID = "5e1f0000-0000-4000-8000-00000000d802"


class StoredSurrogates(fixture.GabbiFixture):
    """Rows of project demo whose JSON metadata hold lone surrogates, as the API stored them
    before it refused them in bodies (a JSON column keeps "\\ud800" escaped, on both
    databases). Written with SQLAlchemy, bypassing the API; list after APIFixture."""

    def start_fixture(self):
        from sharebackup.db.models import Share, ShareExportLocation, ShareSnapshot, ShareType
        rt = _Current.runtime
        bad = {"note": "lone \ud800 high", "\udfff": "lone low key"}
        with rt.db.transaction() as session:
            share_type = session.query(ShareType).filter_by(name=rt.config.default_share_type).one()
            session.add(Share(id=SURROGATE_SHARE_ID, user_id="demo", project_id="demo", size=1,
                              share_proto="NFS", share_type_id=share_type.id, status="available",
                              metadata_=bad))
            session.flush()
            session.add(ShareExportLocation(id=SURROGATE_EXPORT_ID, share_id=SURROGATE_SHARE_ID,
                                            path="/exports/seeded", metadata_=bad))
            session.add(ShareSnapshot(id=SURROGATE_SNAPSHOT_ID, user_id="demo", project_id="demo",
                                      share_id=SURROGATE_SHARE_ID, size=1, share_size=1, share_proto="NFS",
                                      status="available", metadata_=bad))

    def stop_fixture(self):
        pass  # the runtime and its database go with APIFixture


class StaticTokens(fixture.GabbiFixture):
    """Serve the same runtime in tokens mode (auth_strategy = tokens) instead of noauth; a
    member token of project demo is in $SB_MEMBER_TOKEN. List after APIFixture."""

    def start_fixture(self):
        import os
        from dataclasses import replace

        from sharebackup.api.auth.tokens import TokenFile
        rt = _Current.runtime
        conf = replace(rt.config, auth_strategy="tokens")
        os.environ["SB_MEMBER_TOKEN"] = TokenFile(conf.token_path).create("demo", "demo", ["member", "reader"])
        self.noauth_app = _Current.app
        _Current.app = make_app(replace(rt, config=conf))

    def stop_fixture(self):
        _Current.app = self.noauth_app
