"""Enforcement: a private oslo.config namespace, so nothing global is read or changed."""
from __future__ import annotations

from pathlib import Path

from oslo_config import cfg
from oslo_policy import opts as policy_opts
from oslo_policy import policy as oslo_policy

from sharebackup.core.errors import Forbidden


def build_enforcer(policy_path: Path | None) -> oslo_policy.Enforcer:
    conf = cfg.ConfigOpts()
    conf([], project="sharebackup", default_config_files=[], default_config_dirs=[])
    policy_opts.set_defaults(conf)
    # Without an operator file, name one that cannot exist, so oslo.policy's search of its
    # default locations finds nothing and the registered defaults apply.
    policy_file = str(policy_path) if policy_path else "sharebackup-no-operator-policy-file.yaml"
    enforcer = oslo_policy.Enforcer(conf, policy_file=policy_file)
    # oslo.policy 6 always enforces scope and the new defaults; older releases need asking.
    for option in ("enforce_scope", "enforce_new_defaults"):
        try:
            conf.set_override(option, True, group="oslo_policy")
        except cfg.NoSuchOptError:
            pass
    from sharebackup.policies import list_rules
    enforcer.register_defaults(list_rules())
    return enforcer


class Policy:
    """authorize(ctx, rule) raises Forbidden (Manila's 403); check(ctx, rule) answers True/False."""

    def __init__(self, policy_path: Path | None):
        self.enforcer = build_enforcer(policy_path)

    def check(self, ctx, rule: str, target: dict | None = None) -> bool:
        if target is None:
            target = {"project_id": ctx.project_id, "user_id": ctx.user_id}
        return bool(self.enforcer.authorize(rule, target, ctx.to_policy_creds(), do_raise=False))

    def authorize(self, ctx, rule: str, target: dict | None = None) -> None:
        if not self.check(ctx, rule, target):
            raise Forbidden()
