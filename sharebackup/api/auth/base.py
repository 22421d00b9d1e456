"""The interface every auth strategy implements."""
from __future__ import annotations

from sharebackup.core.context import RequestContext
from sharebackup.faults import Fault


class AuthStrategy:
    # Whether is_admin comes from the policy rule context_is_admin (Manila's way for Keystone)
    # rather than from the strategy itself (noauth has its own admin rule).
    admin_from_policy = True

    def authenticate(self, req) -> RequestContext:
        """Return the caller's context or raise Fault(401)."""
        raise NotImplementedError

    def wrap_wsgi(self, app, conf):
        """Give a strategy the chance to put WSGI middleware in front of the app (keystone)."""
        return app


# A 401 must name a challenge (RFC 9110). Without Keystone there is no Keystone URI to give (the
# header used to say uri="unknown"): the service's own tokens are the scheme. With keystone the
# auth_token middleware puts its real `Keystone uri="..."` in instead (keystone.py).
OWN_TOKEN_CHALLENGE = 'Token realm="sharebackup"'


def unauthorized(message: str = "Authentication required") -> Fault:
    return Fault(401, message, headers={"WWW-Authenticate": OWN_TOKEN_CHALLENGE})
