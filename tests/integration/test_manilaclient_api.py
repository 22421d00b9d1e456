"""The python-manilaclient API (keystoneauth Token session) against a real `sharebackup serve`."""
from __future__ import annotations

import time
import uuid

import pytest

from tests.integration.server_process import isolated_home, server  # noqa: F401

manilaclient = pytest.importorskip("manilaclient")
from keystoneauth1 import session as ks_session  # noqa: E402
from keystoneauth1.token_endpoint import Token  # noqa: E402
from manilaclient import api_versions, client  # noqa: E402
from manilaclient import exceptions as mc_exc  # noqa: E402

WAIT = 30.0
SERVER_MAX = "2.91"


@pytest.fixture(scope="module")
def member(server):
    return server.create_token("mc-alpha", "mary", ("member",))


def session_for(endpoint: str, token: str):
    return ks_session.Session(auth=Token(endpoint, token))


def test_version_negotiation_and_pinned_client(server, member, isolated_home):
    ep = server.endpoint
    sess = session_for(ep, member)
    probe = client.Client(api_versions.MAX_VERSION, session=sess, service_catalog_url=ep)
    negotiated = api_versions.discover_version(probe, api_versions.APIVersion(api_versions.MAX_VERSION))
    assert negotiated.get_string() == SERVER_MAX
    assert api_versions.APIVersion(api_versions.MAX_VERSION) > negotiated  # it really negotiated down

    pinned = client.Client("2.80", session=sess, service_catalog_url=ep)
    zones = pinned.availability_zones.list()
    assert [z.name for z in zones] == ["nova"]
    negotiated_client = client.Client(negotiated.get_string(), session=sess, service_catalog_url=ep)
    assert [z.name for z in negotiated_client.availability_zones.list()] == ["nova"]


def test_bad_token_is_unauthorized(server, isolated_home):
    c = client.Client("2.80", session=session_for(server.endpoint, "not-a-token"),
                      service_catalog_url=server.endpoint)
    with pytest.raises(mc_exc.Unauthorized):
        c.availability_zones.list()


@pytest.mark.parametrize("version", ["2.80", "negotiated"])
def test_shares_create_get_list_delete(server, member, isolated_home, version):
    ep = server.endpoint
    sess = session_for(ep, member)
    if version == "negotiated":
        probe = client.Client(api_versions.MAX_VERSION, session=sess, service_catalog_url=ep)
        version = api_versions.discover_version(
            probe, api_versions.APIVersion(api_versions.MAX_VERSION)).get_string()
    c = client.Client(version, session=sess, service_catalog_url=ep)

    name = f"mc-{uuid.uuid4().hex[:8]}"
    share = c.shares.create("NFS", 1, name=name)  # "share_type": null -> the default type
    assert share.id and share.name == name and share.size == 1, share._info
    assert share.share_proto == "NFS", share._info

    deadline = time.monotonic() + WAIT
    while True:
        got = c.shares.get(share.id)
        assert "error" not in got.status, got._info
        if got.status == "available":
            break
        assert time.monotonic() < deadline, f"share {share.id} still {got.status} after {WAIT}s"
        time.sleep(0.2)
    assert got.name == name and got.project_id == "mc-alpha", got._info
    assert got.share_type_name == "default", got._info

    listed = {s.id: s for s in c.shares.list()}
    assert share.id in listed, list(listed)
    assert listed[share.id].status == "available"
    assert share.id in {s.id for s in c.shares.list(detailed=False)}

    c.shares.delete(share.id)
    deadline = time.monotonic() + WAIT
    while True:
        try:
            got = c.shares.get(share.id)
        except mc_exc.NotFound as exc:
            assert exc.http_status == 404
            break
        assert "error" not in got.status, got._info
        assert time.monotonic() < deadline, f"share {share.id} still {got.status} after {WAIT}s"
        time.sleep(0.2)
    assert share.id not in {s.id for s in c.shares.list()}
