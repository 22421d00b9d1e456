"""The tokens and noauth strategies build the right context, or refuse with 401."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from falcon import testing

from sharebackup.api.auth.noauth import NoAuthReply, NoAuthStrategy
from sharebackup.api.auth.tokens import StaticTokenStrategy, TokenFile
from sharebackup.faults import Fault


def _req(headers):
    return testing.create_req(headers=headers)


def test_token_file_stores_only_hashes(tmp_path):
    tokens = TokenFile(tmp_path / "tokens.json")
    token = tokens.create("p1", "u1", ["member", "reader"])
    stored = (tmp_path / "tokens.json").read_text()
    assert token not in stored
    assert json.loads(stored)["tokens"][0]["project_id"] == "p1"
    assert (tmp_path / "tokens.json").stat().st_mode & 0o077 == 0


def test_static_token_strategy(tmp_path):
    tokens = TokenFile(tmp_path / "tokens.json")
    member = tokens.create("p1", "u1", ["member", "reader"])
    admin = tokens.create("admin", "root", ["admin"])
    strategy = StaticTokenStrategy(tokens)
    ctx = strategy.authenticate(_req({"X-Auth-Token": member}))
    assert (ctx.project_id, ctx.user_id, ctx.is_admin) == ("p1", "u1", False)
    assert strategy.authenticate(_req({"X-Auth-Token": admin})).is_admin
    for headers in ({}, {"X-Auth-Token": "wrong"}):
        with pytest.raises(Fault) as info:
            strategy.authenticate(_req(headers))
        assert info.value.code == 401
        # no Keystone here: the challenge names the service's own tokens, not Keystone uri="unknown"
        assert info.value.headers["WWW-Authenticate"] == 'Token realm="sharebackup"'


def test_token_created_by_cli_is_seen_by_a_running_strategy(tmp_path):
    strategy = StaticTokenStrategy(TokenFile(tmp_path / "tokens.json"))
    out = subprocess.run([sys.executable, "-m", "sharebackup.cli.main", "token", "create", "--state-dir",
                          str(tmp_path), "--project", "demo", "--user", "alice", "--role", "member"],
                         capture_output=True, text=True, check=True).stdout
    token = out.strip().splitlines()[-1]
    ctx = strategy.authenticate(_req({"X-Auth-Token": token}))
    assert (ctx.project_id, ctx.user_id) == ("demo", "alice")
    assert set(ctx.roles) == {"member", "reader"}


def _seed_token_file(path, count):
    """A token file with ``count`` entries nobody knows the tokens of (it makes each run's
    read-modify-write take a while, so concurrent runs overlap)."""
    entries = [{"sha256": f"{i:064x}", "project_id": "seed", "user_id": f"u{i}", "roles": ["reader"]}
               for i in range(count)]
    path.write_text(json.dumps({"tokens": entries}))


def test_concurrent_token_create_runs_store_every_token(tmp_path):
    """Eight `sharebackup token create` processes on one state directory: each succeeds, each
    printed token authenticates, and the file holds every one of them next to the seed."""
    from tests.integration.server_process import sharebackup_command
    seed, runs = 2000, 8
    _seed_token_file(tmp_path / "tokens.json", seed)
    procs = [subprocess.Popen([*sharebackup_command(), "token", "create", "--state-dir", str(tmp_path),
                               "--project", f"p{i}", "--user", f"u{i}", "--role", "member"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(runs)]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    failed = [(proc.returncode, err) for proc, (_, err) in zip(procs, outputs) if proc.returncode != 0]
    assert not failed, failed
    printed = [out.strip().splitlines()[-1] for out, _ in outputs]
    tokens = TokenFile(tmp_path / "tokens.json")
    found = {token: tokens.lookup(token) for token in printed}
    assert [t for t, entry in found.items() if entry is None] == [], "printed but never stored"
    assert sorted(entry["project_id"] for entry in found.values()) == sorted(f"p{i}" for i in range(runs))
    stored = json.loads((tmp_path / "tokens.json").read_text())["tokens"]
    assert len(stored) == seed + runs
    assert not list(tmp_path.glob("*.tmp")), "a temporary file was left behind"


def test_noauth_tokens_and_admin_rule():
    strategy = NoAuthStrategy(all_admin=False)
    ctx = strategy.authenticate(_req({"X-Auth-Token": "demo:proj"}))
    assert (ctx.user_id, ctx.project_id, ctx.is_admin) == ("demo", "proj", False)
    assert set(ctx.roles) == {"member", "reader"}
    assert strategy.authenticate(_req({"X-Auth-Token": "solo"})).project_id == "solo"
    assert strategy.authenticate(_req({"X-Auth-Token": "admin:admin"})).is_admin
    reader = strategy.authenticate(_req({"X-Auth-Token": "r:proj", "X-Roles": "reader"}))
    assert reader.roles == ["reader"] and not reader.is_admin


def test_noauth_all_admin_is_manila_exact():
    ctx = NoAuthStrategy(all_admin=True).authenticate(_req({"X-Auth-Token": "demo:proj"}))
    assert ctx.is_admin and "admin" in ctx.roles


def test_noauth_without_token_is_the_fake_token_reply():
    with pytest.raises(NoAuthReply) as info:
        NoAuthStrategy().authenticate(_req({"X-Auth-User": "bob", "X-Auth-Project-Id": "p9"}))
    assert info.value.token == "bob:p9"


def test_admin_follows_the_context_is_admin_policy(tmp_path):
    """tokens mode: who is admin is decided by the policy rule, which an operator can redefine."""
    from tests.conftest import make_runtime
    from sharebackup.api.app import make_app
    (tmp_path / "policy.yaml").write_text('"context_is_admin": "role:superuser"\n')
    rt = make_runtime(tmp_path / "state", auth_strategy="tokens", policy_file=str(tmp_path / "policy.yaml"))
    tokens = TokenFile(rt.config.token_path)
    admin = tokens.create("admin", "root", ["admin", "member", "reader"])
    superuser = tokens.create("ops", "boss", ["superuser"])
    client = testing.TestClient(make_app(rt))
    path = "/v2/quota-sets/someproject"
    body = {"quota_set": {"shares": 5}}
    headers = {"X-OpenStack-Manila-API-Version": "2.80"}
    assert client.simulate_put(path, json=body, headers={**headers, "X-Auth-Token": admin}).status_code == 403
    assert client.simulate_put(path, json=body, headers={**headers, "X-Auth-Token": superuser}).status_code == 200
    rt.db.dispose()


def test_a_token_never_begins_with_a_dash(monkeypatch):
    """The Try: line pastes the admin token after --os-token; one begun with "-" would be taken
    for an option by the openstack CLI (token_urlsafe gave one in 64 such)."""
    from sharebackup.api.auth import tokens
    made = iter(["-looks-like-an-option", "--also", "fine-token"])
    monkeypatch.setattr(tokens.secrets, "token_urlsafe", lambda n: next(made))
    assert tokens.new_token() == "fine-token"
    monkeypatch.undo()
    assert not any(tokens.new_token().startswith("-") for _ in range(2000))
