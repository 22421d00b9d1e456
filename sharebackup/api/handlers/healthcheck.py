"""GET/HEAD /healthcheck in oslo.middleware's style, unauthenticated (a load balancer's probe).

GET: 200 ``OK`` (text/plain) when the database answers ``SELECT 1``, else 503 with the
reason. HEAD: 204 or 503, no body. ``?detailed`` gives a small JSON document instead:
``{"status": "OK"|"DOWN", "checks": [{"name": "database", "ok": ..., "reason": ..., "elapsed_ms": ...}]}``.
The reason names the kind of failure only (no URL, host or credentials).
"""
from __future__ import annotations

import falcon

from sharebackup.services.health import check_database


def _detailed(req) -> bool:
    params = falcon.uri.parse_query_string(req.query_string, keep_blank=True)
    return "detailed" in params and str(params["detailed"]).lower() not in ("0", "false", "no")


def healthcheck(req, resp):
    ok, reason, elapsed = check_database(req.context.runtime)
    resp.status = 200 if ok else 503
    resp.cache_control = ["no-cache"]
    if _detailed(req):
        resp.media = {"status": "OK" if ok else "DOWN",
                      "checks": [{"name": "database", "ok": ok, "reason": reason, "elapsed_ms": round(elapsed, 1)}]}
        return
    resp.content_type = falcon.MEDIA_TEXT
    resp.text = "OK" if ok else reason


def healthcheck_head(req, resp):
    ok, _reason, _elapsed = check_database(req.context.runtime)
    resp.status = 204 if ok else 503
    resp.cache_control = ["no-cache"]
