"""Fixtures shared by the whole suite: runtimes on SQLite or PostgreSQL, and the PostgreSQL gate.

PostgreSQL is at 127.0.0.1:5432 on development and CI machines (user postgres, trust).
Where it is missing the PostgreSQL tests skip with the reason; with CI=true that skip is
turned into a failure, because CI must run them.
"""
from __future__ import annotations

import os
import uuid

import pytest

PG_ADMIN_URL = os.environ.get("SHAREBACKUP_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def pg_available() -> str | None:
    """None when the server answers, else the reason it does not."""
    try:
        import psycopg
        with psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql"), connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}"


def require_pg() -> None:
    reason = pg_available()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the PostgreSQL tests, but: {reason}")
        pytest.skip(reason)


def create_pg_database() -> str:
    """Create a throw-away database; return its SQLAlchemy URL."""
    import psycopg
    name = f"sbtest_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(url: str) -> None:
    import psycopg
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_runtime(state_dir, db_url: str | None = None, **overrides):
    """A migrated runtime with its own state directory (and database)."""
    from sharebackup.core.runtime import build_runtime
    from sharebackup.config import load_config
    from sharebackup.services.bootstrap import prepare_database
    settings = {"state_dir": str(state_dir), "auth_strategy": "noauth", **overrides}
    conf = load_config(None, environ={}, **settings)
    if db_url:
        from dataclasses import replace
        conf = replace(conf, database=replace(conf.database, connection=db_url))
    rt = build_runtime(conf)
    prepare_database(rt)
    return rt


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def runtime(request, tmp_path):
    """A runtime on each database backend in turn."""
    url = None
    if request.param == "postgres":
        require_pg()
        url = create_pg_database()
    rt = make_runtime(tmp_path / "state", url)
    yield rt
    rt.db.dispose()
    if url:
        drop_pg_database(url)


@pytest.fixture
def sqlite_runtime(tmp_path):
    rt = make_runtime(tmp_path / "state")
    yield rt
    rt.db.dispose()


def _slow_first(item) -> tuple[bool, float]:
    """Sort key: slow tests first, by their `slow(seconds=N)` estimate, longest first (0 when not given)."""
    marker = item.get_closest_marker("slow")
    return (marker is None, -float(marker.kwargs.get("seconds", 0)) if marker else 0.0)


def pytest_collection_modifyitems(session, config, items):
    """Slow tests first, the longest of them first (stable order otherwise): with `-n 2 --dist
    loadfile` xdist hands out files in this order, and a long file handed out late runs alone
    at the end while the suite waits for it on one core."""
    items.sort(key=_slow_first)
