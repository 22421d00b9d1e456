"""The request pipeline, in the order Manila's paste pipeline runs it:
request id -> URL normalising (project id, .json) -> microversion -> auth."""
from __future__ import annotations

import logging

from sharebackup import logs
from sharebackup.api import microversion
from sharebackup.core.context import new_request_id
from sharebackup.faults import Fault

# Paths that are open without auth and ignore version headers (version discovery).
DISCOVERY_PATHS = {"/", "/v2", "/healthcheck", "/sharebackup", "/sharebackup/v1"}
# Our own API (/sharebackup/v1): the same auth as Manila's, no microversions.
EXTENSION_PREFIX = "/sharebackup/"


def needs_auth(path: str) -> bool:
    return (path.startswith("/v2") or path.startswith(EXTENSION_PREFIX)) and path not in DISCOVERY_PATHS

ACCESS_LOG = logging.getLogger("sharebackup.access")


class RequestIdMiddleware:
    def process_request(self, req, resp):
        req.context.request_id = new_request_id()
        req.context.log_token = logs.push(request_id=req.context.request_id)  # on every log line of the request

    def process_response(self, req, resp, resource, req_succeeded):
        rid = getattr(req.context, "request_id", None) or new_request_id()
        resp.set_header("x-openstack-request-id", rid)
        if req.path.startswith("/v2") and req.path not in DISCOVERY_PATHS:
            resp.set_header("x-compute-request-id", rid)
        # the request id is on the line already: the log context (logs.push above) adds it
        ACCESS_LOG.info("%s %s %s", req.method, req.relative_uri, resp.status)
        if getattr(req.context, "log_token", None) is not None:
            logs.pop(req.context.log_token)


class UrlMiddleware:
    """Accept every /v2 URL with or without ``{project_id}``, and with a ``.json`` suffix."""

    def __init__(self, collections: set[str]):
        self.collections = collections

    def process_request(self, req, resp):
        path = req.path
        if path.endswith(".json"):
            path = path[: -len(".json")]
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/") or "/"
        req.context.url_project_id = None
        parts = path.split("/")
        if parts[1] in ("console", "sharebackup"):  # our own pages and API: no Manila URL forms
            req.path = path
            return
        if parts[1] != "v2" and (parts[1] in self.collections or (len(parts) > 2 and parts[2] in self.collections)):
            raise _outside_v2(req)
        # ['', 'v2', X, ...]: X is a project id when it is not one of our collections.
        if len(parts) >= 4 and parts[1] == "v2" and parts[2] not in self.collections:
            req.context.url_project_id = parts[2]
            path = "/".join(parts[:2] + parts[3:])
        elif len(parts) == 3 and parts[1] == "v2" and parts[2] not in self.collections and parts[2]:
            # /v2/{project_id} alone is the version document of that project URL.
            req.context.url_project_id = parts[2]
            path = "/v2"
        req.path = path


def _outside_v2(req) -> Fault:
    """/shares instead of /v2/shares: the client's endpoint (OS_ENDPOINT, the catalog) lacks /v2,
    a common mistake that a bare 404 does not explain."""
    return Fault(404, f"The resource could not be found. The Shared File Systems API is at {req.prefix}/v2: "
                      "a client's endpoint (OS_ENDPOINT or the service catalog) must end in /v2.")


class VersionMiddleware:
    def process_request(self, req, resp):
        req.context.version = microversion.MIN_VERSION
        req.context.experimental = False
        if not req.path.startswith("/v2") or req.path in DISCOVERY_PATHS:
            return
        headers = req.headers  # upper-cased names
        req.context.experimental = microversion.experimental_requested(headers)
        req.context.version = microversion.requested_version(headers)

    def process_response(self, req, resp, resource, req_succeeded):
        if not req.path.startswith("/v2") or req.path in DISCOVERY_PATHS:
            return
        version = getattr(req.context, "version", microversion.MIN_VERSION)
        resp.set_header(microversion.LEGACY_HEADER, str(version))
        resp.set_header(microversion.STANDARD_HEADER, f"{microversion.SERVICE_TYPE} {version}")
        resp.append_header("Vary", f"{microversion.LEGACY_HEADER}, {microversion.STANDARD_HEADER}")
        if getattr(req.context, "experimental", False):
            resp.set_header(microversion.EXPERIMENTAL_HEADER, "True")


class AuthMiddleware:
    def __init__(self, strategy):
        self.strategy = strategy

    def process_request(self, req, resp):
        req.context.auth = None
        if req.path == "/console" or req.path.startswith("/console/"):
            # the console's pages decide themselves: a missing or dead session goes to the login form
            if req.get_header("X-Auth-Token"):
                try:
                    req.context.auth = self._context(req)
                except Fault:
                    req.context.auth = None
            return
        if not needs_auth(req.path):
            return
        req.context.auth = self._context(req)

    def _context(self, req):
        ctx = self.strategy.authenticate(req)
        ctx.request_id = req.context.request_id
        if self.strategy.admin_from_policy:
            # An operator who redefines context_is_admin in policy.yaml changes who is admin.
            ctx.is_admin = req.context.runtime.policy.check(ctx, "context_is_admin")
        url_project = req.context.url_project_id
        if url_project is not None and url_project != ctx.project_id:
            raise Fault(400, "Malformed request url")
        return ctx
