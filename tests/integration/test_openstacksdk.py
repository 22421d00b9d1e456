"""openstacksdk's shared_file_system proxy against a real `sharebackup serve` process.

The SDK sends no microversion header for its share calls (the service must default to 2.0), and
backups can only go through the proxy as raw requests with an explicit microversion.
"""
from __future__ import annotations

import uuid

import pytest

from tests.integration.server_process import isolated_home, server  # noqa: F401

openstack = pytest.importorskip("openstack")
from openstack import exceptions as sdk_exc  # noqa: E402

WAIT = 30


def connect(endpoint: str, token: str):
    """Exactly the spec's line (§2.5): admin_token auth plus the endpoint override."""
    return openstack.connect(auth_type="admin_token", auth={"endpoint": endpoint, "token": token},
                             shared_file_system_endpoint_override=endpoint)


@pytest.fixture(scope="module")
def member(server):
    return server.create_token("sdk-alpha", "sally", ("member",))


@pytest.fixture(scope="module")
def other_member(server):
    return server.create_token("sdk-beta", "sam", ("member",))


@pytest.fixture
def sfs(server, member, isolated_home):
    conn = connect(server.endpoint, member)
    yield conn.shared_file_system
    conn.close()


def test_raw_proxy_call_passes_microversion_headers(server, sfs):
    for version in ("2.80", "2.91"):
        resp = sfs.get("/availability-zones", microversion=version)
        assert resp.status_code == 200, (resp.status_code, resp.text)
        # the service echoes the version it used: proves the SDK's header reached it
        assert resp.headers.get("X-OpenStack-Manila-API-Version") == version, dict(resp.headers)
        zones = resp.json()["availability_zones"]
        assert [z["name"] for z in zones] == ["nova"], zones
    # and the proxy's own listing works too
    assert [z.name for z in sfs.availability_zones()] == ["nova"]


def test_bad_token_raises(server, isolated_home):
    conn = connect(server.endpoint, "not-a-token")
    try:
        with pytest.raises(sdk_exc.HttpException) as info:
            list(conn.shared_file_system.availability_zones())
        assert info.value.status_code == 401
    finally:
        conn.close()


def test_share_create_get_list_delete(server, sfs, other_member):
    name = f"sdk-{uuid.uuid4().hex[:8]}"
    share = sfs.create_share(name=name, size=1, share_proto="NFS")
    assert share.id, share
    assert share.name == name and share.size == 1 and share.share_protocol == "NFS", share
    share = sfs.wait_for_status(share, status="available", failures=["error"], interval=0.2, wait=WAIT)
    assert share.status == "available"

    got = sfs.get_share(share.id)
    assert got.id == share.id and got.name == name and got.status == "available", got
    assert got.project_id == "sdk-alpha", got

    listed = {s.id: s for s in sfs.shares()}
    assert share.id in listed, list(listed)
    assert listed[share.id].name == name
    assert share.id in {s.id for s in sfs.shares(details=False)}

    # another project cannot see it
    other = connect(server.endpoint, other_member)
    try:
        with pytest.raises(sdk_exc.NotFoundException):
            other.shared_file_system.get_share(share.id)
        assert share.id not in {s.id for s in other.shared_file_system.shares()}
    finally:
        other.close()

    sfs.delete_share(share, ignore_missing=False)
    sfs.wait_for_delete(share, interval=0.2, wait=WAIT)
    with pytest.raises(sdk_exc.NotFoundException):
        sfs.get_share(share.id)
    assert share.id not in {s.id for s in sfs.shares()}
