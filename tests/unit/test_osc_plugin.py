"""The `openstack share backup policy ...` plugin (sharebackup/osc) without a server: where it finds
the endpoint, what bodies its options make, how it reads the server's answers, and that every
command is registered where the `openstack` CLI looks for it."""
from __future__ import annotations

import argparse
import importlib.metadata
import json
from types import SimpleNamespace

import pytest
from osc_lib import exceptions
from osc_lib.command import command

from sharebackup.osc import client as osc_client
from sharebackup.osc import plugin
from sharebackup.osc.v1 import backup_policies as cmds

COMMANDS = {
    "share_backup_policy_create": "CreateBackupPolicy",
    "share_backup_policy_list": "ListBackupPolicy",
    "share_backup_policy_show": "ShowBackupPolicy",
    "share_backup_policy_set": "SetBackupPolicy",
    "share_backup_policy_delete": "DeleteBackupPolicy",
    "share_backup_policy_add_share": "AddShareBackupPolicy",
    "share_backup_policy_remove_share": "RemoveShareBackupPolicy",
    "share_backup_policy_runs": "ListBackupPolicyRuns",
}


# -- the endpoint ----------------------------------------------------------------------------------

# ids without ':' (gabbi's collection hook takes an id with ':' for one of its suites)
MANILA_URLS = ["http://h:8786/v2", "http://h:8786/v2/abc123", "http://h:8786/v2/", "http://h:8786/v2/abc123/",
               "http://h:8786/", "http://h:8786"]


@pytest.mark.parametrize("manila", MANILA_URLS, ids=[f"url{i}" for i in range(len(MANILA_URLS))])
def test_endpoint_from_manilas(manila):
    assert plugin.sharebackup_endpoint(manila) == "http://h:8786/sharebackup/v1"


def test_endpoint_keeps_a_path_prefix():
    assert plugin.sharebackup_endpoint("https://cloud/share/v2/p1") == "https://cloud/share/sharebackup/v1"


class FakeInstance:
    """What make_client uses of osc-lib's ClientManager."""

    def __init__(self, catalog=None, **options):
        defaults = {"auth": {}, "os_endpoint_override": None, "os_sharebackup_endpoint": None}
        self._cli_options = SimpleNamespace(**{**defaults, **options})
        self.catalog = catalog or {}
        self.region_name, self.interface = "RegionTwo", "internal"
        self.session = object()
        self.lookups = []
        self.auth_set_up = False

    def setup_auth(self):
        self.auth_set_up = True

    def get_endpoint_for_service_type(self, service_type, region_name=None, interface="public"):
        self.lookups.append((service_type, region_name, interface))
        return self.catalog.get(service_type)


def test_make_client_from_the_catalogs_sharev2():
    instance = FakeInstance({"sharev2": "http://h:8786/v2/abc123"})
    client = plugin.make_client(instance)
    assert client.endpoint == "http://h:8786/sharebackup/v1"
    assert client.session is instance.session and instance.auth_set_up
    assert instance.lookups[0] == ("sharev2", "RegionTwo", "internal")


def test_make_client_falls_back_to_shared_file_system():
    instance = FakeInstance({"shared-file-system": "http://h:8786/v2"})
    assert plugin.make_client(instance).endpoint == "http://h:8786/sharebackup/v1"


def test_make_client_uses_os_endpoint_of_token_auth():
    instance = FakeInstance(auth={"endpoint": "http://127.0.0.1:9/v2", "token": "t"})
    assert plugin.make_client(instance).endpoint == "http://127.0.0.1:9/sharebackup/v1"
    assert instance.lookups == []


def test_make_client_uses_manilas_endpoint_override():
    instance = FakeInstance({"sharev2": "http://catalog/v2"}, os_endpoint_override="http://over:1/v2/p")
    assert plugin.make_client(instance).endpoint == "http://over:1/sharebackup/v1"


def test_make_client_sharebackup_endpoint_wins():
    instance = FakeInstance({"sharev2": "http://catalog/v2"}, auth={"endpoint": "http://h/v2"},
                            os_sharebackup_endpoint="http://elsewhere:7/sb/v1/")
    assert plugin.make_client(instance).endpoint == "http://elsewhere:7/sb/v1"


def test_make_client_without_any_endpoint_says_so():
    with pytest.raises(exceptions.CommandError, match="--os-sharebackup-endpoint"):
        plugin.make_client(FakeInstance())


def test_global_options(monkeypatch):
    monkeypatch.setenv("OS_SHAREBACKUP_ENDPOINT", "http://env:1/sharebackup/v1")
    monkeypatch.delenv("OS_SHAREBACKUP_API_VERSION", raising=False)
    options = plugin.build_option_parser(argparse.ArgumentParser()).parse_args([])
    assert options.os_sharebackup_endpoint == "http://env:1/sharebackup/v1"
    assert options.os_sharebackup_api_version == plugin.DEFAULT_API_VERSION in plugin.API_VERSIONS
    assert plugin.API_VERSION_OPTION == "os_sharebackup_api_version"


# -- options to bodies -----------------------------------------------------------------------------

def parse(cls, argv):
    return cls(None, None).get_parser("openstack share backup policy").parse_args(argv)


def test_create_body_with_everything():
    args = parse(cmds.CreateBackupPolicy, [
        "nightly", "--schedule", "0 2 * * *", "--timezone", "Europe/Berlin", "--backup-type", "default",
        "--description", "D", "--disable", "--keep-last", "3", "--keep-hourly", "0", "--keep-daily", "7",
        "--keep-weekly", "4", "--keep-monthly", "12", "--keep-yearly", "2", "--keep-within", "7d"])
    assert cmds.create_body(args) == {
        "name": "nightly", "schedule": "0 2 * * *", "timezone": "Europe/Berlin", "backup_type": "default",
        "description": "D", "enabled": False,
        "retention": {"keep_last": 3, "keep_hourly": 0, "keep_daily": 7, "keep_weekly": 4, "keep_monthly": 12,
                      "keep_yearly": 2, "keep_within": "7d"}}


def test_create_body_minimal():
    args = parse(cmds.CreateBackupPolicy, ["p", "--schedule", "0 2 * * *", "--keep-daily", "7"])
    assert cmds.create_body(args) == {"name": "p", "schedule": "0 2 * * *", "enabled": True,
                                      "retention": {"keep_daily": 7}}


def test_create_needs_a_schedule_and_whole_counts():
    for argv in (["p"], ["p", "--schedule", "x", "--keep-daily", "-1"], ["p", "--schedule", "x", "--keep-last", "a"],
                 ["p", "--schedule", "x", "--enable", "--disable"]):
        with pytest.raises(SystemExit):
            parse(cmds.CreateBackupPolicy, argv)


@pytest.mark.parametrize("argv, body", [
    (["p", "--keep-daily", "14"], {"retention": {"keep_daily": 14}}),
    (["p", "--schedule", "0 3 * * *"], {"schedule": "0 3 * * *"}),
    (["p", "--disable"], {"enabled": False}),
    (["p", "--enable", "--name", "n2", "--description", ""], {"enabled": True, "name": "n2", "description": ""}),
    (["p", "--timezone", "UTC", "--backup-type", "default", "--keep-within", "", "--keep-last", "0"],
     {"timezone": "UTC", "backup_type": "default", "retention": {"keep_within": "", "keep_last": 0}}),
    (["p"], {}),
])
def test_update_body_has_only_the_options_given(argv, body):
    assert cmds.update_body(parse(cmds.SetBackupPolicy, argv)) == body


def test_set_without_options_sends_nothing():
    fake = FakeClient([])
    cmd = with_client(cmds.SetBackupPolicy, fake)
    with pytest.raises(exceptions.CommandError, match="Nothing to change"):
        cmd.take_action(parse(cmds.SetBackupPolicy, ["p"]))
    assert fake.session.calls == []


# -- the HTTP client ---------------------------------------------------------------------------------

class FakeResponse:
    def __init__(self, status, body=None, text=None):
        self.status_code = status
        self.content = (json.dumps(body) if body is not None else (text or "")).encode()

    def json(self):
        return json.loads(self.content)


class FakeSession:
    """Answers requests in order from `answers` ((status, body) pairs) and records them."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = []

    def request(self, url, method, **kwargs):
        self.calls.append((method, url, kwargs.get("params"), kwargs.get("json")))
        assert kwargs["raise_exc"] is False
        status, body = self.answers.pop(0)
        return FakeResponse(status, body) if not isinstance(body, str) else FakeResponse(status, text=body)


def FakeClient(answers):
    return osc_client.Client(FakeSession(answers), "http://h:8786/sharebackup/v1/")


def with_client(cls, client):
    return cls(SimpleNamespace(client_manager=SimpleNamespace(sharebackup=client)), None)


@pytest.mark.parametrize("fault, status", [("badRequest", 400), ("itemNotFound", 404), ("forbidden", 403),
                                           ("conflict", 409)])
def test_fault_bodies_become_command_errors_with_their_message(fault, status):
    client = FakeClient([(status, {fault: {"code": status, "message": f"the {fault} text"}})])
    with pytest.raises(exceptions.CommandError) as caught:
        client.create_policy({"name": "p"})
    assert str(caught.value) == f"the {fault} text" and caught.value.status == status


def test_a_body_that_is_not_json_still_names_the_status():
    client = FakeClient([(502, "<html>bad gateway</html>")])
    with pytest.raises(exceptions.CommandError, match="502"):
        client.get_policy("x")


def test_requests_and_bodies():
    policy = {"id": "i1", "name": "p"}
    client = FakeClient([(201, {"backup_policy": policy}), (200, {"backup_policy": policy}), (204, None),
                         (200, {"backup_policy": policy}), (204, None)])
    assert client.create_policy({"name": "p"}) == policy
    client.update_policy("i1", {"schedule": "x"})
    client.delete_policy("i1")
    client.add_share("i1", "s1")
    client.remove_share("i1", "s1")
    base = "http://h:8786/sharebackup/v1/backup-policies"
    assert [(m, u, b) for m, u, _, b in client.session.calls] == [
        ("POST", base, {"backup_policy": {"name": "p"}}), ("PUT", f"{base}/i1", {"backup_policy": {"schedule": "x"}}),
        ("DELETE", f"{base}/i1", None), ("POST", f"{base}/i1/shares", {"share_id": "s1"}),
        ("DELETE", f"{base}/i1/shares/s1", None)]


def test_list_follows_next_links_until_the_last_page():
    link = {"rel": "next", "href": "http://x/sharebackup/v1/backup-policies/detail?limit=1000&marker=b"}
    client = FakeClient([(200, {"backup_policies": [{"id": "a"}, {"id": "b"}], "backup_policies_links": [link]}),
                         (200, {"backup_policies": [{"id": "c"}]})])
    assert [p["id"] for p in client.list_policies(all_projects=True)] == ["a", "b", "c"]
    (_, url1, params1, _), (_, _, params2, _) = client.session.calls
    assert url1.endswith("/backup-policies/detail")
    assert params1 == {"all_tenants": 1} and params2 == {"all_tenants": 1, "marker": "b"}


def test_list_with_a_limit_is_one_page():
    link = {"rel": "next", "href": "http://x/sharebackup/v1/backup-policies/detail?limit=1&marker=a"}
    client = FakeClient([(200, {"backup_policies": [{"id": "a"}], "backup_policies_links": [link]})])
    assert [p["id"] for p in client.list_policies(limit=1, marker="z")] == ["a"]
    assert client.session.calls[0][2] == {"limit": 1, "marker": "z"}


def test_runs_follow_their_links():
    link = {"rel": "next", "href": "http://x/sharebackup/v1/backup-policies/i1/runs?marker=r1"}
    client = FakeClient([(200, {"backup_policy_runs": [{"id": "r1"}], "backup_policy_runs_links": [link]}),
                         (200, {"backup_policy_runs": [{"id": "r0"}]})])
    assert [r["id"] for r in client.list_runs("i1")] == ["r1", "r0"]


def summaries(*pairs):
    return (200, {"backup_policies": [{"id": i, "name": n} for i, n in pairs]})


def test_find_by_id_then_by_name():
    full = {"id": "i2", "name": "i1", "schedule": "x"}
    client = FakeClient([summaries(("i1", "a"), ("i2", "i1")), (200, {"backup_policy": {"id": "i1"}}),
                         summaries(("i1", "a"), ("i2", "b")), (200, {"backup_policy": full})])
    assert client.find_policy("i1")["id"] == "i1"      # an ID beats a name
    assert client.find_policy("b") == full
    assert client.session.calls[3][1].endswith("/backup-policies/i2")


def test_find_refuses_an_ambiguous_name():
    client = FakeClient([summaries(("i1", "same"), ("i2", "same"))])
    with pytest.raises(exceptions.CommandError, match="More than one backup policy"):
        client.find_policy("same")


def test_find_unknown_says_no_such_policy():
    client = FakeClient([summaries(("i1", "a")), (404, {"itemNotFound": {"code": 404, "message": "gone"}})])
    with pytest.raises(exceptions.CommandError, match="No backup policy with a name or ID of 'zz' exists"):
        client.find_policy("zz")


def test_delete_goes_on_after_a_failure_and_then_fails():
    client = FakeClient([summaries(("i1", "a")), (404, {"itemNotFound": {"code": 404, "message": "no"}}),
                         summaries(("i1", "a")), (200, {"backup_policy": {"id": "i1"}}), (204, None)])
    cmd = with_client(cmds.DeleteBackupPolicy, client)
    with pytest.raises(exceptions.CommandError, match="1 of 2 backup policies failed to delete"):
        cmd.take_action(parse(cmds.DeleteBackupPolicy, ["zz", "a"]))
    assert client.session.calls[-1][:2] == ("DELETE", "http://h:8786/sharebackup/v1/backup-policies/i1")


def test_show_columns_format_retention_and_shares():
    policy = {"id": "i1", "name": "a", "retention": {"keep_daily": 7}, "share_ids": ["s1"]}
    columns, values = cmds._show(policy)
    shown = dict(zip(columns, values))
    assert columns == ("id", "name", "retention", "share_ids")
    assert shown["retention"].machine_readable() == {"keep_daily": 7}
    assert shown["share_ids"].machine_readable() == ["s1"]


# -- registration --------------------------------------------------------------------------------------

def test_every_command_is_an_entry_point():
    found = {ep.name: ep for ep in importlib.metadata.entry_points(group="openstack.sharebackup.v1")}
    assert set(COMMANDS) <= set(found)  # the policy commands (the file commands: test_osc_backup_files)
    for name, cls in COMMANDS.items():
        assert found[name].value == f"sharebackup.osc.v1.backup_policies:{cls}"
    for entry in found.values():
        loaded = entry.load()
        assert issubclass(loaded, command.Command) and loaded.__doc__


def test_the_plugin_is_an_openstack_cli_extension():
    found = {ep.name: ep for ep in importlib.metadata.entry_points(group="openstack.cli.extension")}
    assert found["sharebackup"].value == "sharebackup.osc.plugin"
    module = found["sharebackup"].load()
    assert module.API_NAME == "sharebackup" and callable(module.make_client)
    # the command group `openstack` loads for this plugin: openstack.<API_NAME>.v<major>
    assert f"openstack.{module.API_NAME}.v{module.DEFAULT_API_VERSION}" == "openstack.sharebackup.v1"


def test_no_clash_with_manilaclients_commands():
    ours = {ep.name for ep in importlib.metadata.entry_points(group="openstack.sharebackup.v1")}
    manilas = {ep.name for ep in importlib.metadata.entry_points(group="openstack.share.v2")}
    assert "share_backup_list" in manilas
    assert not ours & manilas
    api_names = [ep.load().API_NAME for ep in importlib.metadata.entry_points(group="openstack.cli.extension")
                 if ep.name in ("sharebackup", "share")]
    assert sorted(api_names) == ["share", "sharebackup"]
