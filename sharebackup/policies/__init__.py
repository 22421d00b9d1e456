"""oslo.policy rules under Manila's names, with Manila's secure-RBAC defaults.

Each resource has its own module of named constants and DocumentedRuleDefault lists;
``list_rules`` feeds oslopolicy-sample-generator (entry point ``sharebackup``), and
``Policy`` enforces them with a private ConfigOpts so no global configuration is read.
"""
from __future__ import annotations

import itertools

from sharebackup.policies import base


def _modules():
    # Imported here so that adding a resource module means adding it to this one list.
    from sharebackup.policies import (availability_zones, backup_policies, extension_backups, messages,
                                      quota_sets, share_backups,
                                      share_export_locations, share_replicas, share_snapshots,
                                      share_types, shares)
    return [base, shares, share_export_locations, share_types, share_snapshots, share_replicas,
            availability_zones, quota_sets, share_backups, messages, backup_policies,
            extension_backups]


def list_rules():
    return list(itertools.chain.from_iterable(m.list_rules() for m in _modules()))


def get_enforcer():
    """For oslopolicy-policy-generator / -checker: an Enforcer with our rules registered."""
    from sharebackup.policies.enforcer import build_enforcer
    return build_enforcer(None)
