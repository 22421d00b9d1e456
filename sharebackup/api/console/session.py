"""The console's session: the caller's own token in an HttpOnly, SameSite=Strict cookie, and a
CSRF token on every form.

The cookie holds the token the user gave (or Keystone issued at login): it grants exactly what
that token grants, nothing more, and it ends when the token does (expired or revoked: the next
page sends the user to the login form). A WSGI wrapper, outside everything else (Keystone's
auth_token included), copies the cookie into X-Auth-Token for /console/ requests only, so every
auth strategy validates a console request as it validates an API request.

CSRF: each form carries HMAC-SHA256(secret, token); a POST without the right value is 403.
The secret is a file in the state directory (every API process of a deployment shares it).
SameSite=Strict already keeps the cookie off cross-site requests; the form token also covers
browsers that ignore it, and a stolen page cannot forge it for another session.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from http.cookies import SimpleCookie
from pathlib import Path

COOKIE = "sharebackup_console"
PREFIX = "/console"
OPEN_PATHS = ("/console/login", "/console/static/")
_SECRETS: dict[str, bytes] = {}


def token_from_cookie(environ: dict) -> str | None:
    raw = environ.get("HTTP_COOKIE")
    if not raw:
        return None
    try:
        morsel = SimpleCookie(raw).get(COOKIE)
    except Exception:  # noqa: BLE001 - a malformed Cookie header is no session
        return None
    return morsel.value if morsel is not None and morsel.value else None


def cookie_to_header(app):
    """The outermost WSGI layer: a console request's cookie becomes its X-Auth-Token (never one
    the client sent itself: a console page is authenticated by the cookie alone)."""
    def wrapped(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == PREFIX or path.startswith(PREFIX + "/"):
            environ.pop("HTTP_X_AUTH_TOKEN", None)
            token = token_from_cookie(environ)
            if token:
                environ["HTTP_X_AUTH_TOKEN"] = token
        return app(environ, start_response)
    return wrapped


def set_session(resp, token: str, secure: bool) -> None:
    resp.set_cookie(COOKIE, token, path=PREFIX, http_only=True, same_site="Strict", secure=secure)


def end_session(resp) -> None:
    """The cookie goes (an expiry in the past; Falcon drops a Max-Age of 0)."""
    resp.unset_cookie(COOKIE, path=PREFIX, same_site="Strict")


def _secret(state_path: Path) -> bytes:
    key = str(state_path)
    if key not in _SECRETS:
        path = state_path / "console-secret"
        try:
            _SECRETS[key] = path.read_bytes()
        except FileNotFoundError:
            state_path.mkdir(parents=True, exist_ok=True)
            value = secrets.token_bytes(32)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(value)
            except FileExistsError:  # another process made it first: use theirs
                pass
            _SECRETS[key] = path.read_bytes()
    return _SECRETS[key]


def csrf_token(state_path: Path, token: str) -> str:
    return hmac.new(_secret(state_path), token.encode(), hashlib.sha256).hexdigest()


def csrf_ok(state_path: Path, token: str | None, given: str | None) -> bool:
    return bool(token and given) and hmac.compare_digest(csrf_token(state_path, token), given)
