"""What every console page needs first: a live session (else the login form, and a dead cookie
is cleared), and on every POST the form's CSRF token (else 403). Domain errors become the
page's error text, with the status the API would give."""
from __future__ import annotations

import functools
from urllib.parse import quote

from sharebackup.api.console import session
from sharebackup.api.console.render import page, redirect
from sharebackup.api.errors import fault_for
from sharebackup.core.errors import DomainError
from sharebackup.faults import Fault


def _secure(req) -> bool:
    return req.scheme == "https"


def signed_in(handler):
    @functools.wraps(handler)
    def wrapped(resource, req, resp, **params):
        if req.context.auth is None:
            if req.get_header("X-Auth-Token"):  # a cookie whose token expired or was revoked
                session.end_session(resp)
                return redirect(resp, "/console/login?ended=1")
            return redirect(resp, "/console/login?next=" + quote(req.relative_uri, safe=""))
        if req.method == "POST":
            form = form_of(req)
            state = req.context.runtime.config.state_path
            if not session.csrf_ok(state, req.get_header("X-Auth-Token"), form.get("csrf")):
                return page(req, resp, "error.html", status=403, title="Refused",
                            error="the form's security token is missing or wrong (a forged or stale form)")
        try:
            return handler(resource, req, resp, **params)
        except (DomainError, Fault) as exc:
            fault = fault_for(exc) if isinstance(exc, DomainError) else exc
            return page(req, resp, "error.html", status=fault.code, title="Error", error=fault.message)
    return wrapped


def form_of(req) -> dict:
    """The posted form (urlencoded), read once; repeated fields as lists."""
    cached = getattr(req.context, "_console_form", None)
    if cached is None:
        from urllib.parse import parse_qs
        raw = req.bounded_stream.read(req.context.runtime.config.api.max_request_body_bytes + 1)
        if len(raw) > req.context.runtime.config.api.max_request_body_bytes:
            raise Fault(413, "Request is too large.")
        parsed = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        cached = {key: values[0] if len(values) == 1 else values for key, values in parsed.items()}
        req.context._console_form = cached
    return cached


def form_list(form: dict, key: str) -> list[str]:
    value = form.get(key, [])
    return value if isinstance(value, list) else [value]
