"""GET /v2/snapshots/{id}/export-locations[/{el}] (2.32): always empty here, 404 for unknown ids.

The handlers exist before their route lines do: the routes are added to the table for this
test when missing (and left as found)."""
from __future__ import annotations

import pytest

from sharebackup.api import routes
from sharebackup.api.handlers import snapshots as handlers

LIST = "/v2/snapshots/{snapshot_id}/export-locations"
SHOW = "/v2/snapshots/{snapshot_id}/export-locations/{export_location_id}"
A = {"X-Auth-Token": "admin:admin", "X-OpenStack-Manila-API-Version": "2.91"}


@pytest.fixture
def client(sqlite_runtime, monkeypatch):
    table = dict(routes.ROUTES)
    table.setdefault(LIST, {"GET": handlers.list_snapshot_export_locations})
    table.setdefault(SHOW, {"GET": handlers.show_snapshot_export_location})
    monkeypatch.setattr(routes, "ROUTES", table)
    import sharebackup.api.app as app
    monkeypatch.setattr(app, "ROUTES", table)
    from tests.functional.api_client import client_for
    return client_for(sqlite_runtime), sqlite_runtime


def _snapshot(rt):
    from sharebackup.db.models import Share, ShareSnapshot
    with rt.db.transaction() as session:
        share = Share(user_id="admin", project_id="admin", size=1, share_proto="NFS", status="available")
        session.add(share)
        session.flush()
        snap = ShareSnapshot(user_id="admin", project_id="admin", share_id=share.id, size=1, share_size=1,
                             share_proto="NFS", status="available")
        session.add(snap)
        session.flush()
        return snap.id


def test_export_locations(client):
    c, rt = client
    snap = _snapshot(rt)
    r = c.simulate_get(f"/v2/snapshots/{snap}/export-locations", headers=A)
    assert r.status_code == 200 and r.json == {"share_snapshot_export_locations": []}
    r = c.simulate_get(f"/v2/snapshots/{snap}/export-locations/x", headers=A)
    assert r.status_code == 404
    r = c.simulate_get("/v2/snapshots/nope/export-locations", headers=A)
    assert r.status_code == 404
    r = c.simulate_get(f"/v2/snapshots/{snap}/export-locations", headers={**A, "X-OpenStack-Manila-API-Version": "2.31"})
    assert r.status_code == 404
    r = c.simulate_get(f"/v2/snapshots/{snap}/export-locations",
                       headers={**A, "X-Auth-Token": "demo:demo", "X-Roles": "nobody"})
    assert r.status_code == 403
