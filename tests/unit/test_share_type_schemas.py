"""Share type request validation: Manila's rules, and a 400 where Manila would crash."""
from __future__ import annotations

import pytest

from sharebackup.faults import Fault  # noqa: F401 - a schema's refusal
from tests.unit._refusals import REFUSED, status
from sharebackup.api.microversion import APIVersion
from sharebackup.api.schemas import share_types as schema

V = APIVersion.parse("2.91")
DHSS = {"driver_handles_share_servers": "False"}


@pytest.mark.parametrize("value,expected", [("True", True), ("<is> False", False), ("  yes ", True),
                                            (True, True), ("0", False)])
def test_boolean_specs(value, expected):
    assert schema.parse_boolean_spec("snapshot_support", value) is expected


@pytest.mark.parametrize("value", ["maybe", "", "<is> maybe", "2"])
def test_bad_boolean_specs(value):
    with pytest.raises(REFUSED) as err:
        schema.parse_boolean_spec("snapshot_support", value)
    assert status(err.value) == 400


def test_create_request_stores_strings_and_defaults():
    request = schema.create_request({"share_type": {"name": "t", "extra_specs": {
        "driver_handles_share_servers": False, "snapshot_support": True,
        "availability_zones": " nova , az2 "}}}, V)
    assert request["extra_specs"] == {"driver_handles_share_servers": "False", "snapshot_support": "True",
                                      "availability_zones": "nova,az2"}
    assert request["is_public"] is True and request["description"] is None
    old = schema.create_request({"share_type": {"name": "t", "extra_specs": dict(DHSS)}}, APIVersion.parse("2.23"))
    assert old["extra_specs"]["snapshot_support"] == "True"


@pytest.mark.parametrize("entity", [
    {"name": "t"},
    {"name": "t", "extra_specs": {"driver_handles_share_servers": "perhaps"}},
    {"name": "t", "extra_specs": {**DHSS, "provisioning:max_share_size": "0"}},
    {"name": "t", "extra_specs": {**DHSS, "availability_zones": "a,,b"}},
    {"name": "t", "extra_specs": {**DHSS, "x": None}},
    {"name": "t", "extra_specs": {**DHSS, "x": [1]}},
    {"name": "t", "extra_specs": "driver_handles_share_servers"},
    {"name": None, "extra_specs": DHSS},
    {"name": "t", "description": 5, "extra_specs": DHSS},
    {"name": "t", "extra_specs": DHSS, "share_type_access:is_public": "perhaps"},
])
def test_create_request_refusals(entity):
    with pytest.raises(REFUSED) as err:
        schema.create_request({"share_type": entity}, V)
    assert status(err.value) == 400


@pytest.mark.parametrize("value,ok", [("9f3c0d2e-5a1b-4c6d-8e7f-0a1b2c3d4e5f", True),
                                      ("9f3c0d2e5a1b4c6d8e7f0a1b2c3d4e5f", True),
                                      ("{9F3C0D2E-5A1B-4C6D-8E7F-0A1B2C3D4E5F}", True),
                                      ("demo", False), (None, False), (12, False), ("", False)])
def test_uuid_like(value, ok):
    assert schema.is_uuid_like(value) is ok


def test_extra_specs_filter():
    assert schema.extra_specs_filter("{'snapshot_support': 'True'}", V) == {"snapshot_support": "True"}
    assert schema.extra_specs_filter(None, V) == {}
    for bad in ("[1]", "snapshot_support", "{'a': " * 50):
        with pytest.raises(REFUSED):
            schema.extra_specs_filter(bad, V)


def test_concurrent_creates_of_one_name_make_one_type(runtime):
    """Ten threads create the same name at once: exactly one wins, the rest get 409."""
    import threading

    from sharebackup.core.context import RequestContext
    from sharebackup.services import share_types as service

    request = schema.create_request({"share_type": {"name": "race", "extra_specs": dict(DHSS)}}, V)
    results, barrier = [], threading.Barrier(10)

    def create():
        barrier.wait()
        try:
            service.create(runtime, RequestContext.admin(), dict(request))
            results.append(200)
        except REFUSED as fault:
            results.append(status(fault))

    threads = [threading.Thread(target=create) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200] + [409] * 9


def _race(n, work):
    import threading
    results, barrier = [], threading.Barrier(n)

    def run():
        barrier.wait()
        try:
            work()
            results.append(200)
        except REFUSED as fault:
            results.append(status(fault))

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(results)


def test_concurrent_spec_and_access_writes(runtime):
    """The same new spec key and the same project grant, written at once: no 500 (unique rows)."""
    from sharebackup.core.context import RequestContext
    from sharebackup.services import share_types as service

    ctx = RequestContext.admin()
    request = schema.create_request({"share_type": {"name": "p", "extra_specs": dict(DHSS),
                                                    "share_type_access:is_public": False}}, V)
    type_id = service.create(runtime, ctx, request).id
    assert _race(8, lambda: service.set_specs(runtime, ctx, type_id, {"k": "v"})) == [200] * 8
    assert service.get_specs(runtime, ctx, type_id)["k"] == "v"
    project = "9f3c0d2e-5a1b-4c6d-8e7f-0a1b2c3d4e5f"
    assert _race(8, lambda: service.add_access(runtime, ctx, type_id, project)) == [200] + [409] * 7
