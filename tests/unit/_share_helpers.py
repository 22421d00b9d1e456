"""A runtime with a worker pool and a Falcon client, for the share unit tests."""
from __future__ import annotations

import time

from tests.functional.api_client import client_for

MEMBER = {"X-Auth-Token": "demo:demo", "X-OpenStack-Manila-API-Version": "2.91"}
ADMIN = {"X-Auth-Token": "admin:admin", "X-OpenStack-Manila-API-Version": "2.91"}


class Harness:
    def __init__(self, state_dir, **overrides):
        from sharebackup.queue.lease_queue import LeaseQueue
        from sharebackup.workflows.runners import build_runners
        from sharebackup.queue.worker_pool import WorkerPool
        from tests.conftest import make_runtime
        self.rt = make_runtime(state_dir, **overrides)
        self.pool = WorkerPool(lambda owner: LeaseQueue(self.rt.db, owner), build_runners(self.rt),
                               threads=2, poll_seconds=0.02)
        self.pool.start()
        self.rt.wake_workers = self.pool.wake
        self.client = client_for(self.rt)

    def close(self):
        self.pool.stop()
        self.rt.db.dispose()

    def share(self, share_id, headers=ADMIN):
        return self.client.simulate_get(f"/v2/shares/{share_id}", headers=headers)

    def wait(self, share_id, until, headers=ADMIN, timeout=10.0):
        """Poll until the status is ``until`` (or the share is gone when until is None)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.share(share_id, headers)
            if until is None and result.status_code == 404:
                return None
            if result.status_code == 200 and result.json["share"]["status"] == until:
                return result.json["share"]
            if time.monotonic() > deadline:
                raise AssertionError(f"share {share_id} never reached {until}: {result.text}")
            time.sleep(0.02)

    def create(self, headers=MEMBER, **fields):
        body = {"share_proto": "NFS", "size": 1, **fields}
        result = self.client.simulate_post("/v2/shares", headers=headers, json={"share": body})
        assert result.status_code == 200, result.text
        return result.json["share"]["id"]

    def action(self, share_id, body, headers=MEMBER):
        return self.client.simulate_post(f"/v2/shares/{share_id}/action", headers=headers, json=body)
