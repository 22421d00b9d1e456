"""The Database object: one engine, a session factory and write transactions that serialise
the way each backend needs (SQLite: BEGIN IMMEDIATE; PostgreSQL: row locks)."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


class Database:
    def __init__(self, url: str, pool_size: int = 5):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            args = {"check_same_thread": False, "timeout": 30}
            self.engine: Engine = create_engine(url, connect_args=args)
            self._setup_sqlite(self.engine, immediate=True)
            # Reads take no write lock, so GETs never queue behind a writer (WAL).
            self.read_engine: Engine = create_engine(url, connect_args=args)
            self._setup_sqlite(self.read_engine, immediate=False)
        else:
            self.engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size * 2,
                                        pool_pre_ping=True)
            self.read_engine = self.engine
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)

    @staticmethod
    def _setup_sqlite(engine: Engine, immediate: bool) -> None:
        # pysqlite's own transaction handling defers BEGIN and would let two writers read the
        # same quota usage; take the write lock at BEGIN instead (BEGIN IMMEDIATE).
        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any exception."""
        with self._sessions() as session:
            with session.begin():
                yield session

    @contextlib.contextmanager
    def reader(self) -> Iterator[Session]:
        """A read-only session: on SQLite it takes no write lock."""
        with self._read_sessions() as session:
            with session.begin():
                yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
