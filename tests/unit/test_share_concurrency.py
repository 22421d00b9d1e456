"""Concurrent share requests on both backends: quota never overshoots, one delete wins."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sharebackup.db.models import Job, Quota, Share
from tests.functional.api_client import client_for

MEMBER = {"X-Auth-Token": "demo:demo", "X-OpenStack-Manila-API-Version": "2.91"}


def test_concurrent_creates_respect_the_share_quota(runtime):
    with runtime.db.transaction() as session:
        session.add(Quota(project_id="demo", user_id="", resource="shares", hard_limit=3))
    client = client_for(runtime)

    def create(_):
        return client.simulate_post("/v2/shares", headers=MEMBER, json={"share": {"share_proto": "NFS",
                                                                                  "size": 1}}).status_code
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(create, range(12)))
    assert sorted(codes) == [200] * 3 + [413] * 9, codes
    with runtime.db.reader() as session:
        assert session.query(Share).filter(Share.deleted.is_(False)).count() == 3


def test_concurrent_deletes_queue_one_job(runtime):
    client = client_for(runtime)
    share_id = client.simulate_post("/v2/shares", headers=MEMBER, json={"share": {
        "share_proto": "NFS", "size": 1}}).json["share"]["id"]
    with runtime.db.transaction() as session:
        session.get(Share, share_id).status = "available"

    def delete(_):
        return client.simulate_delete(f"/v2/shares/{share_id}", headers=MEMBER).status_code
    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(delete, range(6)))
    assert sorted(codes) == [202] + [403] * 5, codes
    with runtime.db.reader() as session:
        assert session.query(Job).filter(Job.resource_id == share_id, Job.kind == "share.delete").count() == 1
