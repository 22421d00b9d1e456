"""The production WSGI entry point builds the app from SHAREBACKUP_* settings on first request."""
from __future__ import annotations

from falcon import testing


def test_wsgi_application_serves_from_environment(tmp_path, monkeypatch):
    from sharebackup.db.database import Database
    from sharebackup.db.migrate import upgrade
    monkeypatch.setenv("SHAREBACKUP_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("SHAREBACKUP_AUTH_STRATEGY", "noauth")
    upgrade(Database(f"sqlite:///{tmp_path}/sharebackup.sqlite"))
    from sharebackup.api.wsgi import _LazyApplication
    client = testing.TestClient(_LazyApplication())
    assert client.simulate_get("/").status_code == 300
    result = client.simulate_get("/v2/availability-zones", headers={"X-Auth-Token": "demo:demo"})
    assert result.status_code == 200
    assert result.json["availability_zones"][0]["name"] == "nova"
