"""/v2/messages with real messages: one written by a failed backup job, others written directly."""
from __future__ import annotations

import datetime as dt

import pytest

from sharebackup.db.models import Message, Share, utcnow
from sharebackup.services import messages
from tests.functional.api_client import client_for
from tests.unit.test_backup_jobs import CREATE, _backup, _run, _set, _share

DEMO = {"X-Auth-Token": "demo:demo", "X-OpenStack-Manila-API-Version": "2.91"}
ALT = {"X-Auth-Token": "alt:alt", "X-OpenStack-Manila-API-Version": "2.91"}
ADMIN = {"X-Auth-Token": "admin:admin", "X-OpenStack-Manila-API-Version": "2.91"}


@pytest.fixture
def api(runtime):
    return runtime, client_for(runtime)


def _failed_backup(rt, tmp_path) -> str:
    share_id = _share(rt, tmp_path / "no-such-dir")
    _set(rt, Share, share_id, status="backup_creating")
    backup_id = _backup(rt, share_id)
    _run(rt, CREATE, backup_id, {"share_id": share_id})
    return backup_id


def test_a_failed_job_message_through_the_api(api, tmp_path):
    rt, client = api
    backup_id = _failed_backup(rt, tmp_path)
    listed = client.simulate_get("/v2/messages", headers=DEMO).json["messages"]
    assert len(listed) == 1
    message = listed[0]
    assert set(message) == {"id", "project_id", "action_id", "detail_id", "message_level", "created_at",
                            "expires_at", "request_id", "links", "resource_type", "resource_id", "user_message"}
    assert (message["resource_type"], message["resource_id"], message["action_id"], message["message_level"],
            message["project_id"]) == ("SHARE_BACKUP", backup_id, "101", "ERROR", "demo")
    assert message["user_message"].startswith("create share backup: the share directory could not be read")
    created = dt.datetime.fromisoformat(message["created_at"])
    expires = dt.datetime.fromisoformat(message["expires_at"])
    assert expires - created == dt.timedelta(seconds=rt.config.message_ttl)
    assert message["links"][0]["href"].endswith(f"/v2/messages/{message['id']}")

    shown = client.simulate_get(f"/v2/messages/{message['id']}", headers=DEMO)
    assert shown.status_code == 200 and shown.json["message"] == message
    assert client.simulate_get(f"/v2/messages?resource_id={backup_id}", headers=DEMO).json["messages"] == [message]
    assert client.simulate_get("/v2/messages?resource_id=other", headers=DEMO).json["messages"] == []
    assert client.simulate_get("/v2/messages?message_level=WARNING", headers=DEMO).json["messages"] == []

    # another project neither lists nor sees it; an admin does
    assert client.simulate_get("/v2/messages", headers=ALT).json["messages"] == []
    assert client.simulate_get(f"/v2/messages/{message['id']}", headers=ALT).status_code == 404
    assert client.simulate_delete(f"/v2/messages/{message['id']}", headers=ALT).status_code == 404
    assert len(client.simulate_get("/v2/messages", headers=ADMIN).json["messages"]) == 1

    deleted = client.simulate_delete(f"/v2/messages/{message['id']}", headers=DEMO)
    assert deleted.status_code == 204
    assert client.simulate_get(f"/v2/messages/{message['id']}", headers=DEMO).status_code == 404


def _write(rt, created_at, expires_in=3600, level="ERROR", resource_id="r"):
    with rt.db.transaction() as session:
        message = messages.create_message(session, "demo", "SHARE", resource_id, "028", "001", level, "text")
        message.created_at = created_at
        message.expires_at = utcnow() + dt.timedelta(seconds=expires_in)


def test_time_window_sorting_paging_and_expiry(api):
    rt, client = api
    now = utcnow()
    for days in (3, 2, 1):
        _write(rt, now - dt.timedelta(days=days), resource_id=f"r{days}")
    _write(rt, now, expires_in=-10, resource_id="expired")
    with rt.db.reader() as session:
        assert session.query(Message).count() == 4

    ids = [m["resource_id"] for m in client.simulate_get("/v2/messages", headers=DEMO).json["messages"]]
    assert ids == ["r1", "r2", "r3"]  # newest first; the expired one is not shown
    ascending = client.simulate_get("/v2/messages?sort_key=created_at&sort_dir=asc", headers=DEMO).json
    assert [m["resource_id"] for m in ascending["messages"]] == ["r3", "r2", "r1"]

    since = (now - dt.timedelta(days=2, hours=1)).isoformat()
    windowed = client.simulate_get("/v2/messages", params={"created_since": since}, headers=DEMO).json
    assert [m["resource_id"] for m in windowed["messages"]] == ["r1", "r2"]
    before = (now - dt.timedelta(days=1, hours=1)).isoformat() + "Z"
    windowed = client.simulate_get("/v2/messages", params={"created_before": before}, headers=DEMO).json
    assert [m["resource_id"] for m in windowed["messages"]] == ["r2", "r3"]

    page = client.simulate_get("/v2/messages?limit=2", headers=DEMO).json
    assert [m["resource_id"] for m in page["messages"]] == ["r1", "r2"]
    href = page["messages_links"][0]["href"]
    assert "offset=2" in href
    rest = client.simulate_get("/v2/messages?limit=2&offset=2", headers=DEMO).json
    assert [m["resource_id"] for m in rest["messages"]] == ["r3"] and "messages_links" not in rest

    _write(rt, now)  # writing a message removes expired ones
    with rt.db.reader() as session:
        assert session.query(Message).filter(Message.resource_id == "expired").count() == 0
