"""Auth strategies. Each turns a request into a RequestContext, or refuses it with 401.

- tokens:   a static token file, tokens stored hashed, roles per token (the default);
- noauth:   Manila's ``user[:project]`` token convention;
- keystone: keystonemiddleware's auth_token in front of the app (extra ``sharebackup[keystone]``).
"""
from __future__ import annotations

from sharebackup.api.auth.base import AuthStrategy
from sharebackup.config import Config


def make_strategy(conf: Config) -> AuthStrategy:
    if conf.auth_strategy == "noauth":
        from sharebackup.api.auth.noauth import NoAuthStrategy
        return NoAuthStrategy(all_admin=conf.noauth_all_admin)
    if conf.auth_strategy == "keystone":
        from sharebackup.api.auth.keystone import KeystoneStrategy
        return KeystoneStrategy()
    from sharebackup.api.auth.tokens import StaticTokenStrategy, TokenFile
    return StaticTokenStrategy(TokenFile(conf.token_path))
