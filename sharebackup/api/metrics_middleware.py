"""Prometheus request metrics: counts by method, route template and status, and latencies.

The label is the matched route template (``/v2/shares/{share_id}``, after the project id
and ``.json`` are taken off), never the raw path, so the number of series stays bounded;
a request stopped before routing (401 from the auth middleware, 400 for a bad version)
gets its template from a router of its own over the same table; a path that matches no
route is labelled ``unmatched``. The middleware is first in the
list, so its process_response runs last and sees the final status (faults included).

``GET /metrics`` (handlers/metrics.py) serves the registry without auth and only when
``metrics_enabled`` is true: the labels are aggregates (method, route, status, job kind
and state), no project, user or resource ids. Operators who cannot keep the API port
private set ``metrics_enabled = false``.
"""
from __future__ import annotations

import time

from falcon.routing import CompiledRouter
from prometheus_client import CollectorRegistry, Counter, Histogram

UNMATCHED = "unmatched"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class MetricsMiddleware:
    def __init__(self, registry: CollectorRegistry, enabled: bool = True, routes=()):
        self.registry = registry
        self.enabled = enabled
        self.router = CompiledRouter()
        for template in routes:
            self.router.add_route(template, _Template())
        self.requests = Counter("sharebackup_http_requests", "HTTP requests by method, route template and status.",
                                ["method", "route", "status"], registry=registry)
        self.latency = Histogram("sharebackup_http_request_duration_seconds",
                                 "HTTP request latency by method and route template.", ["method", "route"],
                                 registry=registry, buckets=LATENCY_BUCKETS)

    def process_request(self, req, resp):
        req.context.metrics_started = time.perf_counter()
        req.context.metrics_registry = self.registry if self.enabled else None

    def process_response(self, req, resp, resource, req_succeeded):
        started = getattr(req.context, "metrics_started", None)
        if started is None:
            return
        route = req.uri_template if resource is not None and req.uri_template else self._template(req.path)
        method = req.method if req.method in _METHODS else "other"
        self.requests.labels(method, route, str(resp.status_code)).inc()
        self.latency.labels(method, route).observe(time.perf_counter() - started)

    def _template(self, path: str) -> str:
        try:
            found = self.router.find(path)
        except Exception:  # noqa: BLE001 - a label must never fail a request
            found = None
        return found[3] if found else UNMATCHED


class _Template:
    """Stands for a resource in the template router (only the template is wanted)."""

    def on_get(self, req, resp):  # pragma: no cover - never called
        raise NotImplementedError
