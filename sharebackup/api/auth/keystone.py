"""Keystone: keystonemiddleware's auth_token validates the token and sets X-* headers;
we read them as Manila's ManilaKeystoneContext does.

auth_token runs with ``delay_auth_decision`` so that version discovery (``/``, ``/v2``)
stays open; every other request without a confirmed identity gets 401 here.

Configuration: the ``[keystone_authtoken]`` section arrives as a plain dict. Given only a
dict, auth_token would register the auth plugin's options (username, password, ...) on
oslo.config's global ``cfg.CONF`` and read every option it was not given from there. We
hand it a private ``ConfigOpts`` instead (its ``oslo_config_config`` hook), fill it with
``set_override`` (which type-checks each value), and pass only the names that object does
not know the paste way (deprecated aliases, which auth_token maps itself, or unknown names,
which it logs a warning about). Our values never reach the global object; the only global
effect left is keystonemiddleware registering its option defaults on ``cfg.CONF`` when it
is imported.
"""
from __future__ import annotations

from sharebackup.api.auth.base import AuthStrategy, unauthorized
from sharebackup.core.context import RequestContext
from sharebackup.faults import Fault

GROUP = "keystone_authtoken"
# Set unless the operator says otherwise.
DEFAULTS = {
    "delay_auth_decision": "true",          # discovery must stay open; we give the 401s
    "auth_type": "password",
    "service_token_roles_required": "true",  # keystonemiddleware warns when false
}
# Keys used by paste-deploy or by auth_token to find configuration elsewhere: never ours.
_IGNORED = {"oslo_config_config", "oslo_config_project", "oslo_config_file", "here", "__file__"}


def _identity_headers(req) -> tuple[str | None, str | None, list[str]]:
    user = req.get_header("X-User-Id") or req.get_header("X-User")
    project = req.get_header("X-Project-Id") or req.get_header("X-Tenant-Id")
    roles = [r.strip() for r in (req.get_header("X-Roles") or "").split(",") if r.strip()]
    return user, project, roles


class KeystoneStrategy(AuthStrategy):
    @staticmethod
    def _unauthorized(message: str | None = None) -> Fault:
        fault = unauthorized(message) if message else unauthorized()
        # auth_token adds ``WWW-Authenticate: Keystone uri="<www_authenticate_uri>"`` to every
        # 401 on its way out; a second header of ours would only contradict it.
        fault.headers.pop("WWW-Authenticate", None)
        return fault

    def authenticate(self, req) -> RequestContext:
        # auth_token strips any X-Identity-Status / X-User-Id / X-Roles the client sent
        # before it sets its own, so these headers can be trusted.
        if req.get_header("X-Identity-Status") != "Confirmed":
            raise self._unauthorized()
        user, project, roles = _identity_headers(req)
        if not user:
            raise self._unauthorized("Neither X-User-Id nor X-User found in request")
        if not project:
            # A system- or domain-scoped token is a valid identity but not a project caller;
            # every Manila policy is project-scoped, so it may not do anything here.
            scope = "system" if req.get_header("X-System-Scope") else (
                "domain" if req.get_header("X-Domain-Id") else "unscoped")
            raise Fault(403, f"A project-scoped token is required (this token is {scope}).")
        return RequestContext(user_id=user, project_id=project, roles=roles, is_admin="admin" in roles,
                              auth_token=req.get_header("X-Auth-Token"))

    def wrap_wsgi(self, app, conf):
        try:
            from keystonemiddleware import auth_token
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError("auth_strategy = keystone needs the extra: pip install 'sharebackup[keystone]'") from exc
        options = {**DEFAULTS, **{k: v for k, v in dict(conf.keystone_authtoken).items() if k not in _IGNORED}}
        local_conf, leftovers = build_oslo_conf(options)
        return auth_token.AuthProtocol(app, {"oslo_config_config": local_conf, **leftovers})


def build_oslo_conf(options: dict[str, str]):
    """A private oslo.config object holding auth_token's options and the auth plugin's.

    Returns ``(ConfigOpts, leftovers)``: leftovers are the keys it has no option for
    (deprecated names, which auth_token maps itself; or unknown keys, which it warns about).
    Raises ``ConfigError`` for a value of the wrong type or an unknown ``auth_type``.
    """
    from keystoneauth1 import exceptions as ksa_exceptions
    from keystoneauth1 import loading
    from keystonemiddleware import auth_token
    from oslo_config import cfg

    from sharebackup.config import ConfigError

    local = cfg.ConfigOpts()
    local([], project="sharebackup", default_config_files=[], default_config_dirs=[],
          validate_default_values=True)
    known: set[str] = set()
    for group, opts in auth_token.list_opts():
        local.register_opts(opts, group=group)
        if group == GROUP:
            known.update(opt.dest for opt in opts)
    auth_type = options.get("auth_type")
    if auth_type:
        try:
            loader = loading.get_plugin_loader(auth_type)
        except ksa_exceptions.NoMatchingPlugin as exc:
            raise ConfigError(f"[{GROUP}] auth_type: no keystoneauth1 plugin named {auth_type!r}") from exc
        plugin_opts = loading.get_auth_plugin_conf_options(loader)
        local.register_opts(plugin_opts, group=GROUP)
        known.update(opt.dest for opt in plugin_opts)
    leftovers = {}
    for key, value in options.items():
        dest = key.replace("-", "_")
        if dest not in known:
            leftovers[key] = value
            continue
        try:
            local.set_override(dest, value, group=GROUP)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"[{GROUP}] {key}: {exc}") from exc
    return local, leftovers
