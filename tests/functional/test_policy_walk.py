"""Policy everywhere, in one order: every operation of the route table (and every action),
at the lowest and the highest version of its window, for five personas.

The answer is 403 exactly when the operation's policy rule, as the enforcer reads it, denies
that persona; anything else (200, 400, 404 for a resource that does not exist) means the
policy let it through. One version below the window every persona gets 404: the version is
checked before the policy, as Manila's router does, on every route and every action. The
cases come from the route table itself, so a new route is walked without editing this test.

Our own API (/sharebackup/v1) is walked too, with the same personas and the same comparison,
but once and without a version header: it has no microversions, so it has no window to walk.
"""
from __future__ import annotations

import pytest

from sharebackup.api.microversion import MAX_VERSION, MIN_VERSION, VERSIONS, APIVersion
from sharebackup.core.context import RequestContext
from sharebackup.policies import backup_policies as policy_rules
from tests.functional.api_client import ROOTS, client_for, concrete_path, operation_cases

PERSONAS = {
    "admin": ({"X-Auth-Token": "admin:admin"}, RequestContext("admin", "admin", ["member", "reader", "admin"], True)),
    "member": ({"X-Auth-Token": "demo:demo"}, RequestContext("demo", "demo", ["member", "reader"])),
    "reader": ({"X-Auth-Token": "demo:demo", "X-Roles": "reader"}, RequestContext("demo", "demo", ["reader"])),
    "other project": ({"X-Auth-Token": "alt:alt"}, RequestContext("alt", "alt", ["member", "reader"])),
    "no roles": ({"X-Auth-Token": "demo:demo", "X-Roles": "nobody"}, RequestContext("demo", "demo", ["nobody"])),
}
CASES = list(operation_cases(ROOTS))
# Operations that check a target of their own after the route's rule, as Manila's do: a quota set
# names a project (another project's is refused, 403, in services/quotas), and a quota class
# set is for an admin context only (Manila's authorize_quota_class_context).
OWN_TARGET = ("/v2/quota-sets/", "/v2/os-quota-sets/", "/v2/quota-class-sets/", "/v2/os-quota-class-sets/")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from tests.conftest import make_runtime
    rt = make_runtime(tmp_path_factory.mktemp("walk") / "state")
    yield rt, client_for(rt)
    rt.db.dispose()


def _send(client, case, version: str | None, headers: dict):
    if version is not None:
        headers = {**headers, "X-OpenStack-Manila-API-Version": version,
                   "X-OpenStack-Manila-API-Experimental": "true"}
    kwargs = {"headers": headers} if case.body is None else {"headers": headers, "json": case.body}
    return client.simulate_request(case.method, concrete_path(case.template), **kwargs)


def _edges(case) -> list[str | None]:
    if not case.versioned:  # /sharebackup/v1: one request, no version header (none is needed)
        return [None]
    return sorted({case.since, case.until or str(MAX_VERSION)}, key=APIVersion.parse)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_policy_decides_at_both_ends_of_the_window(world, case):
    rt, client = world
    for version in _edges(case):
        for persona, (headers, ctx) in PERSONAS.items():
            allowed = rt.policy.check(ctx, case.policy)
            result = _send(client, case, version, headers)
            assert result.status_code < 500, f"{case} at {version} as {persona}: {result.status_code} {result.text}"
            if allowed:
                assert result.status_code != 403 or case.template.startswith(OWN_TARGET), \
                    f"{case} at {version} as {persona}: the rule allows, the API said {result.text}"
            else:
                assert result.status_code == 403, f"{case} at {version} as {persona}: {result.status_code} " \
                                                  f"{result.text} (the rule {case.policy} denies)"
                assert result.json == {"forbidden": {"code": 403, "message": "Access was denied to this resource."}}


# Only /v2 has version windows. An extension route's since is Operation's default "2.0" and the
# version middleware never reads a header on /sharebackup/v1 (every request there is 2.0), so
# no version is "below" it: excluded by name, not merely because 2.0 is the minimum.
@pytest.mark.parametrize("case", [c for c in CASES if c.versioned and APIVersion.parse(c.since) > MIN_VERSION],
                         ids=str)
def test_below_the_window_everyone_gets_404_before_any_policy(world, case):
    rt, client = world
    below = VERSIONS[VERSIONS.index(case.since) - 1]
    for persona, (headers, _ctx) in PERSONAS.items():
        result = _send(client, case, below, headers)
        assert result.status_code == 404, f"{case} at {below} as {persona}: {result.status_code} {result.text}"


def test_the_walk_covers_every_route_and_action():
    templates = {case.template for case in CASES}
    assert "/v2/shares" in templates and "/v2/quota-sets/{project_id}" in templates
    actions = {next(iter(case.body)) for case in CASES if case.body and case.template.endswith("/action")}
    assert {"extend", "os-extend", "restore", "reset_status", "addProjectAccess"} <= actions
    assert all(case.policy for case in CASES)  # no /v2 or /sharebackup/v1 operation goes without a rule
    assert len(CASES) >= 70


def test_the_walk_covers_every_backup_policy_operation():
    walked = {(case.method, case.template): case.policy for case in CASES if not case.versioned}
    root = "/sharebackup/v1/backup-policies"
    assert {(m, t): p for (m, t), p in walked.items() if t.startswith(root)} == {
        ("GET", root): policy_rules.GET_ALL, ("POST", root): policy_rules.CREATE,
        ("GET", root + "/detail"): policy_rules.GET_ALL,
        ("GET", root + "/{policy_id}"): policy_rules.GET, ("PUT", root + "/{policy_id}"): policy_rules.UPDATE,
        ("DELETE", root + "/{policy_id}"): policy_rules.DELETE,
        ("POST", root + "/{policy_id}/shares"): policy_rules.ATTACH,
        ("DELETE", root + "/{policy_id}/shares/{share_id}"): policy_rules.DETACH,
        ("GET", root + "/{policy_id}/runs"): policy_rules.RUNS}
    assert any(t.startswith("/sharebackup/v1/share-backups/") for _, t in walked)  # the rest of /sharebackup/v1


READS = {policy_rules.GET, policy_rules.GET_ALL, policy_rules.RUNS}
WRITES = {policy_rules.CREATE, policy_rules.UPDATE, policy_rules.DELETE, policy_rules.ATTACH, policy_rules.DETACH}
# What each persona may do with backup policies, as the issue states it (the walk above holds the
# API to the enforcer; this holds the enforcer's defaults to the issue), on a policy of its own
# project and on one of project demo's.
PROMISED = {
    "admin": (READS | WRITES | {policy_rules.GET_ALL_PROJECT}, READS | WRITES | {policy_rules.GET_ALL_PROJECT}),
    "member": (READS | WRITES, READS | WRITES),
    "reader": (READS, READS),
    "other project": (READS | WRITES, set()),
    "no roles": (set(), set()),
}


@pytest.mark.parametrize("persona", sorted(PROMISED))
def test_backup_policy_rules_are_the_ones_the_issue_states(world, persona):
    rt, _client = world
    ctx = PERSONAS[persona][1]
    own, demos = PROMISED[persona]
    for rule in READS | WRITES | {policy_rules.GET_ALL_PROJECT}:
        assert rt.policy.check(ctx, rule) == (rule in own), f"{persona} {rule} on its own project"
        assert rt.policy.check(ctx, rule, {"project_id": "demo", "user_id": "demo"}) == (rule in demos), \
            f"{persona} {rule} on project demo"
