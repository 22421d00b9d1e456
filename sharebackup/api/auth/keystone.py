"""Keystone: keystonemiddleware's auth_token validates the token and sets X-* headers;
we read them as Manila's ManilaKeystoneContext does.

auth_token runs with ``delay_auth_decision`` so that version discovery (``/``, ``/v2``)
stays open; every other request without a confirmed identity gets 401 here.
"""
from __future__ import annotations

from sharebackup.api.auth.base import AuthStrategy, unauthorized
from sharebackup.api.context import RequestContext


class KeystoneStrategy(AuthStrategy):
    def authenticate(self, req) -> RequestContext:
        if req.get_header("X-Identity-Status") != "Confirmed":
            raise unauthorized()
        user = req.get_header("X-User-Id") or req.get_header("X-User")
        if not user:
            raise unauthorized("Neither X-User-Id nor X-User found in request")
        project = req.get_header("X-Project-Id") or req.get_header("X-Tenant-Id") or ""
        roles = [r.strip() for r in (req.get_header("X-Roles") or "").split(",") if r.strip()]
        return RequestContext(user_id=user, project_id=project, roles=roles, is_admin="admin" in roles,
                              auth_token=req.get_header("X-Auth-Token"))

    def wrap_wsgi(self, app, conf):
        try:
            from keystonemiddleware import auth_token
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError("auth_strategy = keystone needs the extra: pip install 'sharebackup[keystone]'") from exc
        options = dict(conf.keystone_authtoken)
        options.setdefault("delay_auth_decision", "true")
        return auth_token.AuthProtocol(app, options)
