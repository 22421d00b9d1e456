"""Manila's noauth: the token is ``user[:project]``; no token gets the 204 fake-token reply.

Manila makes every noauth caller admin, which makes 403s untestable. Here only the user
``admin`` is admin unless ``noauth_all_admin = true`` asks for Manila's exact behaviour.
Non-admin callers get ``member`` and ``reader``, or the roles listed in ``X-Roles``.
"""
from __future__ import annotations

from sharebackup.api.auth.base import AuthStrategy, unauthorized
from sharebackup.core.context import RequestContext

# user_id and project_id columns are String(255); PostgreSQL refuses longer values and NUL.
MAX_ID = 255


class NoAuthReply(Exception):
    """Manila answers a token-less request with 204 and a ready-made token."""

    def __init__(self, token: str, url: str):
        self.token = token
        self.url = url


class NoAuthStrategy(AuthStrategy):
    admin_from_policy = False

    def __init__(self, all_admin: bool = False):
        self.all_admin = all_admin

    def authenticate(self, req) -> RequestContext:
        token = req.get_header("X-Auth-Token")
        if not token:
            user = req.get_header("X-Auth-User") or "admin"
            project = req.get_header("X-Auth-Project-Id") or "admin"
            raise NoAuthReply(f"{user}:{project}", req.url)
        user, _, project = token.partition(":")
        project = project or user
        if not (_storable(user) and _storable(project)):
            raise unauthorized("The request you have made requires authentication.")
        is_admin = self.all_admin or user == "admin"
        header_roles = req.get_header("X-Roles")
        if header_roles:
            roles = [r.strip() for r in header_roles.split(",") if r.strip()]
        else:
            roles = ["member", "reader"]
        if is_admin and "admin" not in roles:
            roles.append("admin")
        return RequestContext(user_id=user, project_id=project, roles=roles,
                              is_admin=is_admin or "admin" in roles, auth_token=token)


def _storable(name: str) -> bool:
    """Whether an id from a token fits the columns it is written to (a 500 otherwise)."""
    return len(name) <= MAX_ID and "\x00" not in name
