"""SQL storage: SQLAlchemy 2 models, the session/transaction helper and Alembic migrations."""
