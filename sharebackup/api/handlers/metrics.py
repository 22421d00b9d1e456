"""GET /metrics: the process's Prometheus registry, unauthenticated, aggregate counters only.

Off (404) when ``metrics_enabled`` is false. See api/metrics_middleware.py for the choice.
"""
from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sharebackup.faults import Fault


def show_metrics(req, resp):
    registry = getattr(req.context, "metrics_registry", None)
    if registry is None:
        raise Fault(404, "Metrics are disabled (metrics_enabled = false).")
    resp.content_type = CONTENT_TYPE_LATEST
    resp.data = generate_latest(registry)
