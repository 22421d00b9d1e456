"""Build the WSGI application: Falcon (WSGI mode), our middleware, the route table, faults."""
from __future__ import annotations

import logging

import falcon

from sharebackup.api import middleware
from sharebackup.api.auth import make_strategy
from sharebackup.api.auth.noauth import NoAuthReply
from sharebackup.api.console import routes as console_routes
from sharebackup.api.console.session import cookie_to_header
from sharebackup.api.errors import fault_for
from sharebackup.api.json_media import json_handler
from sharebackup.core.errors import DomainError
from sharebackup.faults import Fault
from sharebackup.api.metrics_middleware import MetricsMiddleware
from sharebackup.api.operations import responder
from sharebackup.api.routes import ROUTES, collections
from sharebackup.core.runtime import Runtime

LOG = logging.getLogger(__name__)


class _RuntimeMiddleware:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    def process_request(self, req, resp):
        req.context.runtime = self.runtime


class _Route:
    """One path of the route table: each method's operations become one Falcon responder
    (operations.responder: size, version, policy, handler); Falcon answers any other method
    with 405 and an Allow header (turned into Manila's body below)."""

    def __init__(self, methods: dict):
        for method, operations in methods.items():
            listed = operations if isinstance(operations, list) else [operations]
            setattr(self, f"on_{method.lower()}", responder(listed))


def _send_fault(resp, fault: Fault) -> None:
    resp.status = fault.code
    resp.media = fault.body()
    for name, value in fault.headers.items():
        resp.set_header(name, value)


def _handle_fault(req, resp, ex: Fault, params):
    _send_fault(resp, ex)


def _handle_domain_error(req, resp, ex: DomainError, params):
    _send_fault(resp, fault_for(ex))


def _handle_noauth_reply(req, resp, ex: NoAuthReply, params):
    resp.status = 204
    resp.set_header("X-Auth-Token", ex.token)
    resp.set_header("X-Server-Management-Url", ex.url)


def _handle_http_error(req, resp, ex: falcon.HTTPError, params):
    code = int(ex.status_code)
    message = None
    if code == 400 and ex.description:
        message = ex.description
    fault = Fault(code, message)
    for name, value in (ex.headers or {}).items():
        if name.lower() == "allow":
            fault.headers["Allow"] = value
    _send_fault(resp, fault)


def _handle_unexpected(req, resp, ex: Exception, params):
    # Never a stack trace to the client: log it with the request id and answer 500.
    LOG.exception("unexpected error in %s %s (%s)", req.method, req.path,
                  getattr(req.context, "request_id", "-"))
    _send_fault(resp, Fault(500))


def make_app(runtime: Runtime, registry=None):
    """The WSGI callable for this runtime (auth middleware of the strategy included).

    ``registry``: the process's Prometheus CollectorRegistry (jobs.metrics.build_registry, shared
    with the worker pool); without one the app builds its own, with the queue gauges.
    """
    strategy = make_strategy(runtime.config)
    if registry is None:
        from sharebackup.queue.metrics import build_registry
        registry, _job_metrics = build_registry(runtime.db)
    app = falcon.App(middleware=[
        MetricsMiddleware(registry, enabled=runtime.config.metrics_enabled, routes=ROUTES),
        _RuntimeMiddleware(runtime),
        middleware.RequestIdMiddleware(),
        middleware.UrlMiddleware(collections()),
        middleware.VersionMiddleware(),
        middleware.AuthMiddleware(strategy),
    ])
    app.req_options.strip_url_path_trailing_slash = True
    app.req_options.auto_parse_qs_csv = False
    app.resp_options.default_media_type = falcon.MEDIA_JSON
    app.resp_options.media_handlers[falcon.MEDIA_JSON] = json_handler()  # survives stored surrogates
    for path, methods in ROUTES.items():
        app.add_route(path, _Route(methods))
    console_routes.mount(app, strategy)  # /console/: pages over the same services and rules
    app.add_error_handler(Exception, _handle_unexpected)
    app.add_error_handler(falcon.HTTPError, _handle_http_error)
    app.add_error_handler(Fault, _handle_fault)
    app.add_error_handler(DomainError, _handle_domain_error)
    app.add_error_handler(NoAuthReply, _handle_noauth_reply)
    # the console's cookie becomes X-Auth-Token before anything (Keystone's auth_token too) sees it
    return cookie_to_header(strategy.wrap_wsgi(app, runtime.config))
