"""Health of what the service depends on (the database), for /healthcheck."""
from __future__ import annotations

from sharebackup.core.runtime import Runtime

import logging
import time

from sqlalchemy import text

LOG = logging.getLogger(__name__)


def check_database(rt: Runtime) -> tuple[bool, str, float]:
    """(ok, reason, elapsed ms). The reason names the kind of failure only (no URL or credentials)."""
    started = time.perf_counter()
    try:
        with rt.db.reader() as session:
            session.execute(text("SELECT 1")).scalar()
        ok, reason = True, "database answered"
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        LOG.warning("healthcheck: the database did not answer: %s", exc)
        ok, reason = False, f"database unavailable ({type(exc).__name__})"
    return ok, reason, (time.perf_counter() - started) * 1000
