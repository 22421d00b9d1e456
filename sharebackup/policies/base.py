"""Base check strings, named as Manila names them (manila/policies/base.py)."""
from oslo_policy import policy

RULE_ADMIN_API = "rule:admin_api"
RULE_DEFAULT = "rule:default"
RULE_ADMIN_OR_OWNER = "rule:admin_or_owner"

ADMIN = "rule:context_is_admin"
PROJECT_MEMBER = "role:member and project_id:%(project_id)s"
PROJECT_READER = "role:reader and project_id:%(project_id)s"
ADMIN_OR_PROJECT_MEMBER = f"({ADMIN}) or ({PROJECT_MEMBER})"
ADMIN_OR_PROJECT_READER = f"({ADMIN}) or ({PROJECT_READER})"

rules = [
    policy.RuleDefault(name="context_is_admin", check_str="role:admin",
                       description="Who counts as admin."),
    policy.RuleDefault(name="admin_or_owner", check_str="is_admin:True or project_id:%(project_id)s",
                       description="Legacy default: admin or the owning project."),
    policy.RuleDefault(name="default", check_str=RULE_ADMIN_OR_OWNER,
                       description="Legacy default rule."),
    policy.RuleDefault(name="admin_api", check_str="is_admin:True",
                       description="Legacy admin-only rule."),
]


def list_rules():
    return rules


def documented(name: str, check_str: str, description: str, operations: list[tuple[str, str]]):
    """A DocumentedRuleDefault with Manila's scope (project)."""
    return policy.DocumentedRuleDefault(
        name=name, check_str=check_str, description=description, scope_types=["project"],
        operations=[{"method": method, "path": path} for method, path in operations])
