"""/console/login and /console/logout."""
from __future__ import annotations

from urllib.parse import unquote

from sharebackup.api.console import session
from sharebackup.api.console.guard import _secure, form_of, signed_in
from sharebackup.api.console.render import page, redirect
from sharebackup.core.context import RequestContext
from sharebackup.faults import Fault


class _TokenProbe:
    """Just enough of a request for an auth strategy to look at one token."""

    def __init__(self, req, token: str):
        self.req, self.token = req, token

    def get_header(self, name, default=None):
        return self.token if name.lower() == "x-auth-token" else self.req.get_header(name, default)

    def __getattr__(self, name):
        return getattr(self.req, name)


def _keystone_token(conf, form: dict) -> str:
    from keystoneauth1 import exceptions, session as ks_session
    from keystoneauth1.identity import generic
    settings = dict(conf.keystone_authtoken)
    auth_url = settings.get("www_authenticate_uri") or settings.get("auth_url")
    domain = form.get("domain") or "Default"
    auth = generic.Password(auth_url=auth_url, username=form.get("username", ""), password=form.get("password", ""),
                            project_name=form.get("project", ""), user_domain_name=domain,
                            project_domain_name=domain)
    try:
        return ks_session.Session(auth=auth).get_token()
    except exceptions.ClientException:
        raise Fault(401, "Keystone refused the user name, password or project.") from None


class Login:
    def __init__(self, strategy):
        self.strategy = strategy

    def on_get(self, req, resp):
        notice = "Your session ended (the token expired or was revoked): log in again." \
            if req.get_param("ended") else None
        page(req, resp, "login.html", title="Log in", mode=req.context.runtime.config.auth_strategy, notice=notice,
             next=req.get_param("next") or "")

    def on_post(self, req, resp):
        conf = req.context.runtime.config
        form = form_of(req)
        try:
            token = _keystone_token(conf, form) if conf.auth_strategy == "keystone" else form.get("token", "").strip()
            if conf.auth_strategy != "keystone":
                context = self.strategy.authenticate(_TokenProbe(req, token)) if token else None
                if not isinstance(context, RequestContext):
                    raise Fault(401, "That token is not valid.")
        except Fault as fault:
            return page(req, resp, "login.html", status=401, title="Log in", mode=conf.auth_strategy,
                        error=fault.message)
        session.set_session(resp, token, _secure(req))
        target = unquote(req.get_param("next") or "")
        redirect(resp, target if target.startswith("/console/") and "//" not in target else "/console/shares")


class Logout:
    @signed_in
    def on_post(self, req, resp):
        session.end_session(resp)
        redirect(resp, "/console/login")
