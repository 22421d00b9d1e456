"""GET/HEAD /healthcheck in oslo.middleware's style, unauthenticated (a load balancer's probe).

GET: 200 ``OK`` (text/plain) when the database answers ``SELECT 1``, else 503 with the
reason. HEAD: 204 or 503, no body. ``?detailed`` gives a small JSON document instead:
``{"status": "OK"|"DOWN", "checks": [{"name": "database", "ok": ..., "reason": ..., "elapsed_ms": ...}]}``.
The reason names the kind of failure only (no URL, host or credentials).
"""
from __future__ import annotations

import logging
import time

import falcon
from sqlalchemy import text

LOG = logging.getLogger(__name__)


def _check_database(rt) -> tuple[bool, str, float]:
    started = time.perf_counter()
    try:
        with rt.db.reader() as session:
            session.execute(text("SELECT 1")).scalar()
        ok, reason = True, "database answered"
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        LOG.warning("healthcheck: the database did not answer: %s", exc)
        ok, reason = False, f"database unavailable ({type(exc).__name__})"
    return ok, reason, (time.perf_counter() - started) * 1000


def _detailed(req) -> bool:
    params = falcon.uri.parse_query_string(req.query_string, keep_blank=True)
    return "detailed" in params and str(params["detailed"]).lower() not in ("0", "false", "no")


def healthcheck(req, resp):
    ok, reason, elapsed = _check_database(req.context.runtime)
    resp.status = 200 if ok else 503
    resp.cache_control = ["no-cache"]
    if _detailed(req):
        resp.media = {"status": "OK" if ok else "DOWN",
                      "checks": [{"name": "database", "ok": ok, "reason": reason, "elapsed_ms": round(elapsed, 1)}]}
        return
    resp.content_type = falcon.MEDIA_TEXT
    resp.text = "OK" if ok else reason


def healthcheck_head(req, resp):
    ok, _reason, _elapsed = _check_database(req.context.runtime)
    resp.status = 204 if ok else 503
    resp.cache_control = ["no-cache"]
