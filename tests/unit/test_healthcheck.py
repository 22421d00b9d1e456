"""GET/HEAD /healthcheck: oslo.middleware's probe, open without auth, 503 when the database is gone."""
from __future__ import annotations

import contextlib

import pytest
from falcon import testing
from sqlalchemy.exc import OperationalError

from sharebackup.api.app import make_app
from tests.conftest import make_runtime


@pytest.fixture
def rt(tmp_path):
    rt = make_runtime(tmp_path / "state", auth_strategy="tokens")  # tokens: no caller is known
    yield rt
    rt.db.dispose()


@pytest.fixture
def client(rt):
    return testing.TestClient(make_app(rt))


def _break_database(rt, monkeypatch):
    @contextlib.contextmanager
    def broken():
        raise OperationalError("SELECT 1", {}, Exception("connection refused to secret-host:5432"))
        yield

    monkeypatch.setattr(rt.db, "reader", broken)


def test_ok_without_auth_as_plain_text(client):
    resp = client.simulate_get("/healthcheck")
    assert resp.status_code == 200
    assert resp.text == "OK"
    assert resp.headers["content-type"].startswith("text/plain")
    assert resp.headers["x-openstack-request-id"].startswith("req-")
    assert "x-openstack-manila-api-version" not in resp.headers  # no microversion on discovery paths


def test_head_answers_204_without_body(client):
    resp = client.simulate_head("/healthcheck")
    assert resp.status_code == 204
    assert resp.text == ""


def test_detailed_gives_json(client):
    resp = client.simulate_get("/healthcheck", query_string="detailed")
    assert resp.status_code == 200
    assert resp.json["status"] == "OK"
    assert resp.json["checks"][0]["name"] == "database"
    assert resp.json["checks"][0]["ok"] is True


def test_database_down_gives_503_with_a_reason(rt, client, monkeypatch):
    _break_database(rt, monkeypatch)
    resp = client.simulate_get("/healthcheck")
    assert resp.status_code == 503
    assert resp.text == "database unavailable (OperationalError)"
    assert "secret-host" not in resp.text  # the reason names the failure, not the connection
    assert client.simulate_head("/healthcheck").status_code == 503
    detailed = client.simulate_get("/healthcheck", query_string="detailed=true")
    assert detailed.status_code == 503
    assert detailed.json["status"] == "DOWN"
    assert detailed.json["checks"][0]["ok"] is False


def test_other_methods_get_405(client):
    resp = client.simulate_post("/healthcheck")
    assert resp.status_code == 405
    assert "GET" in resp.headers["allow"]


def test_api_still_needs_auth(client):
    assert client.simulate_get("/v2/shares").status_code == 401
