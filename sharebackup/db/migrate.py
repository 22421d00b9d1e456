"""Run the Alembic migrations programmatically (`sharebackup db upgrade`, and at start-up)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig

from sharebackup.db.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(db: Database) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    cfg = alembic_config(db)
    with db.engine.connect() as conn:
        if db.is_sqlite:
            # Alembic runs its own transaction; the IMMEDIATE begin hook is harmless here.
            pass
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()
