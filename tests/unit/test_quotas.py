"""Quota usage, update rules and the quota/limits API with rows inserted directly
(the shares, snapshots and backups APIs that create them are built elsewhere)."""
from __future__ import annotations

import falcon.testing
import pytest

from sharebackup.api.app import make_app
from sharebackup.core.context import RequestContext
from sharebackup.faults import Fault  # noqa: F401 - a schema's refusal
from tests.unit._refusals import REFUSED, status
from sharebackup.db.models import Share, ShareBackup, ShareSnapshot
from sharebackup.services import quotas

ADMIN = {"X-Auth-Token": "admin:admin"}
DEMO = {"X-Auth-Token": "demo:demo"}


def _headers(base, version="2.80", **extra):
    return {**base, "X-OpenStack-Manila-API-Version": version, **extra}


def _add_rows(rt, project="demo", user="demo", shares=(), snapshots=(), backups=(), deleted_shares=()):
    with rt.db.transaction() as session:
        made = []
        for size, deleted in [(size, False) for size in shares] + [(size, True) for size in deleted_shares]:
            share = Share(user_id=user, project_id=project, size=size, share_proto="NFS", status="available",
                          deleted=deleted)
            session.add(share)
            made.append(share)
        session.flush()
        for size in snapshots:
            session.add(ShareSnapshot(user_id=user, project_id=project, share_id=made[0].id, size=size,
                                      share_size=made[0].size, share_proto="NFS", status="available"))
        for size in backups:
            session.add(ShareBackup(user_id=user, project_id=project, share_id=made[0].id, size=size,
                                    status="available"))


@pytest.fixture
def client(runtime):
    return falcon.testing.TestClient(make_app(runtime))


def test_usage_counts_live_rows_of_the_project_and_user(runtime):
    _add_rows(runtime, shares=(3, 4), snapshots=(2,), backups=(3, 3), deleted_shares=(100,))
    _add_rows(runtime, user="other", shares=(5,))
    _add_rows(runtime, project="alt", user="alt", shares=(7,))
    with runtime.db.reader() as session:
        used = quotas.usage(session, "demo")
        mine = quotas.usage(session, "demo", "demo")
    assert (used["shares"], used["gigabytes"]) == (3, 12)
    assert (used["snapshots"], used["snapshot_gigabytes"]) == (1, 2)
    assert (used["backups"], used["backup_gigabytes"]) == (2, 6)
    assert used["share_networks"] == 0
    assert (mine["shares"], mine["gigabytes"]) == (2, 7)


def test_detail_and_limits_show_in_use(runtime, client):
    _add_rows(runtime, shares=(3, 4), snapshots=(2,), backups=(3,))
    detail = client.simulate_get("/v2/quota-sets/demo/detail", headers=_headers(DEMO))
    assert detail.status_code == 200, detail.text
    body = detail.json["quota_set"]
    assert body["shares"] == {"in_use": 2, "limit": 50, "reserved": 0}
    assert body["gigabytes"] == {"in_use": 7, "limit": 1000, "reserved": 0}
    assert body["snapshot_gigabytes"]["in_use"] == 2
    assert body["backups"] == {"in_use": 1, "limit": 10, "reserved": 0}
    assert body["share_networks"] == {"in_use": 0, "limit": 10, "reserved": 0}

    limits = client.simulate_get("/v2/limits", headers=_headers(DEMO))
    assert limits.status_code == 200
    absolute = limits.json["limits"]["absolute"]
    assert limits.json["limits"]["rate"] == []
    assert absolute["totalSharesUsed"] == 2
    assert absolute["totalShareGigabytesUsed"] == 7
    assert absolute["totalShareSnapshotsUsed"] == 1
    assert absolute["totalSnapshotGigabytesUsed"] == 2
    assert absolute["totalShareBackupsUsed"] == 1
    assert absolute["totalBackupGigabytesUsed"] == 3
    assert absolute["maxTotalShareBackups"] == 10

    old = client.simulate_get("/v2/limits", headers=_headers(DEMO, "2.79")).json["limits"]["absolute"]
    assert "maxTotalShareBackups" not in old and "totalBackupGigabytesUsed" not in old
    assert old["maxTotalShareReplicas"] == 100


def test_update_below_in_use_needs_force(runtime, client):
    _add_rows(runtime, shares=(3, 4), backups=(3,))
    low = client.simulate_put("/v2/quota-sets/demo", headers=_headers(ADMIN), json={"quota_set": {"shares": 1}})
    assert low.status_code == 400
    assert low.json["badRequest"]["message"] == ("Quota value 1 for shares is smaller than already used and "
                                                 "reserved 2.")
    gigs = client.simulate_put("/v2/quota-sets/demo", headers=_headers(ADMIN),
                               json={"quota_set": {"gigabytes": 6}})
    assert gigs.json["badRequest"]["message"] == ("Quota value 6 for gigabytes is smaller than already used "
                                                  "and reserved 7.")
    backups = client.simulate_put("/v2/quota-sets/demo", headers=_headers(ADMIN),
                                  json={"quota_set": {"backups": 0}})
    assert backups.status_code == 400
    exact = client.simulate_put("/v2/quota-sets/demo", headers=_headers(ADMIN), json={"quota_set": {"shares": 2}})
    assert exact.status_code == 200 and exact.json["quota_set"]["shares"] == 2
    forced = client.simulate_put("/v2/quota-sets/demo", headers=_headers(ADMIN),
                                 json={"quota_set": {"shares": 1, "force": True}})
    assert forced.status_code == 200 and forced.json["quota_set"]["shares"] == 1
    # From unlimited, Manila skips the in-use comparison and reports the settable minimum.
    client.simulate_put("/v2/quota-sets/demo", headers=_headers(ADMIN), json={"quota_set": {"shares": -1}})
    again = client.simulate_put("/v2/quota-sets/demo", headers=_headers(ADMIN), json={"quota_set": {"shares": 1}})
    assert again.json["badRequest"]["message"] == "Quota limit must be greater than 2."


def test_user_update_below_the_users_in_use(runtime, client):
    _add_rows(runtime, shares=(1, 1, 1))
    refused = client.simulate_put("/v2/quota-sets/demo?user_id=demo", headers=_headers(ADMIN),
                                  json={"quota_set": {"shares": 2}})
    assert refused.status_code == 400
    assert refused.json["badRequest"]["message"] == ("Quota value 2 for shares is smaller than already used "
                                                     "and reserved 3.")
    other = client.simulate_put("/v2/quota-sets/demo?user_id=someone", headers=_headers(ADMIN),
                                json={"quota_set": {"shares": 0}})
    assert other.status_code == 200


def test_reserve_enforces_project_and_user_limits(runtime):
    admin = RequestContext.admin()
    quotas.update(runtime, admin, "demo", "", {"shares": 3, "backup_gigabytes": 5}, force=False)
    quotas.update(runtime, admin, "demo", "bob", {"shares": 1}, force=False)
    with runtime.db.transaction() as session:
        quotas.reserve(session, runtime, "demo", "bob", {"shares": 1, "gigabytes": 1})
        session.add(Share(user_id="bob", project_id="demo", size=1, share_proto="NFS", status="creating"))
    with pytest.raises(REFUSED) as bob_again, runtime.db.transaction() as session:
        quotas.reserve(session, runtime, "demo", "bob", {"shares": 1, "gigabytes": 1})
    assert status(bob_again.value) == 413
    assert bob_again.value.message == ("ShareLimitExceeded: Maximum number of shares allowed (1) either per "
                                       "project/user or share type quota is exceeded.")
    with runtime.db.transaction() as session:  # alice has no own limit: the project's applies
        quotas.reserve(session, runtime, "demo", "alice", {"shares": 2, "gigabytes": 2})
    with pytest.raises(REFUSED) as too_big, runtime.db.transaction() as session:
        quotas.reserve(session, runtime, "demo", "alice", {"backups": 1, "backup_gigabytes": 6})
    assert too_big.value.message == ("ShareBackupSizeExceedsAvailableQuota: Requested backup exceeds allowed "
                                     "Backup gigabytes quota. Requested 6G, quota is 5G and 0G has been consumed.")
    with runtime.db.transaction() as session:  # negative deltas and unlimited never fail
        quotas.reserve(session, runtime, "demo", "alice", {"shares": -1, "encryption_keys": 1})


def test_quota_class_default_drives_reserve(runtime):
    admin = RequestContext.admin()
    quotas.update_class(runtime, admin, "default", {"snapshots": 0})
    with pytest.raises(REFUSED) as exceeded, runtime.db.transaction() as session:
        quotas.reserve(session, runtime, "fresh", "u", {"snapshots": 1, "snapshot_gigabytes": 1})
    assert exceeded.value.message == ("SnapshotLimitExceeded: Maximum number of snapshots allowed (0) either per "
                                      "project/user or share type quota is exceeded.")


def test_per_share_gigabytes(runtime):
    admin = RequestContext.admin()
    with runtime.db.transaction() as session:
        quotas.check_per_share_size(session, runtime, "demo", "u", 10 ** 6)  # -1 by default
    quotas.update(runtime, admin, "demo", "", {"per_share_gigabytes": 5}, force=False)
    with runtime.db.transaction() as session:
        quotas.check_per_share_size(session, runtime, "demo", "u", 5)
    with pytest.raises(REFUSED) as too_big, runtime.db.transaction() as session:
        quotas.check_per_share_size(session, runtime, "demo", "u", 6)
    assert status(too_big.value) == 413
    assert too_big.value.message == ("ShareSizeExceedsLimit: Requested share size 6 is larger than maximum "
                                     "allowed limit 5.")
    quotas.update(runtime, admin, "demo", "small", {"per_share_gigabytes": 2}, force=False)
    with pytest.raises(REFUSED), runtime.db.transaction() as session:
        quotas.check_per_share_size(session, runtime, "demo", "small", 3)


def test_members_see_only_their_project(runtime, client):
    own = client.simulate_get("/v2/quota-sets/demo", headers=_headers(DEMO))
    assert own.status_code == 200
    other = client.simulate_get("/v2/quota-sets/alt", headers=_headers(DEMO))
    assert other.status_code == 403
    assert client.simulate_get("/v2/quota-sets/alt/detail", headers=_headers(DEMO)).status_code == 403
    assert client.simulate_get("/v2/quota-sets/alt", headers=_headers(ADMIN)).status_code == 200


MALFORMED_BODIES = [
    b"null", b"[]", b'"x"', b"1", b'{"quota_set": null}', b'{"quota_set": []}', b'{"quota_set": "s"}',
    b'{"quota_set": {"shares": {}}}', b'{"quota_set": {"shares": {"a": 1}}}', b'{"quota_set": {"shares": 1e400}}',
    b'{"quota_set": {"shares": -1e400}}', b'{"quota_set": {"shares": "NaN"}}', b'{"quota_set": {"force": {}}}',
    b'{"quota_set": {"shares": "\\u0000"}}', b'{"quota_set": {"shares": -99999999999999999999}}',
    b'\xff\xfe', b'{"quota_set": {"shares": 1, "shares": "x"}}',
    b'{"quota_class_set": null}', b'{"quota_class_set": {"shares": null}}', b'{"quota_class_set": {"shares": []}}',
    b'{"quota_class_set": {"shares": 1e400}}', b'{"quota_class_set": {"shares": 99999999999999999999}}',
]


def test_no_malformed_body_is_a_500(runtime, client):
    for path in ("/v2/quota-sets/demo", "/v2/quota-class-sets/default"):
        for body in MALFORMED_BODIES:
            reply = client.simulate_put(path, headers=_headers(ADMIN, **{"Content-Type": "application/json"}),
                                        body=body)
            assert reply.status_code in (200, 400), (path, body, reply.status_code, reply.text)
