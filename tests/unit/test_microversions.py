"""Microversions as data: parsing, ordering, and handlers whose windows must not overlap."""
from __future__ import annotations

import pytest

from sharebackup.api import microversion
from sharebackup.faults import Fault
from sharebackup.api.microversion import APIVersion, VersionedHandler, requested_version


def test_versions_list_is_ordered_and_contiguous():
    parsed = [APIVersion.parse(v) for v in microversion.VERSIONS]
    assert parsed == sorted(parsed)
    assert [v.minor for v in parsed] == list(range(0, len(parsed)))
    assert str(microversion.MAX_VERSION) == "2.91"


def test_overlapping_windows_are_refused():
    handler = VersionedHandler("demo")
    handler.add("2.0", "2.79", lambda *a: None)
    handler.add("2.80", None, lambda *a: None)
    with pytest.raises(ValueError, match="overlap"):
        handler.add("2.85", "2.90", lambda *a: None)


@pytest.mark.parametrize("headers,expected", [
    ({}, "2.0"),
    ({"X-OPENSTACK-MANILA-API-VERSION": "2.80"}, "2.80"),
    ({"OPENSTACK-API-VERSION": "shared-file-system 2.85"}, "2.85"),
    ({"OPENSTACK-API-VERSION": "compute 2.5, shared-file-system 2.7"}, "2.7"),
])
def test_requested_version(headers, expected):
    assert str(requested_version(headers)) == expected


@pytest.mark.parametrize("text,code", [("latest", 400), ("2.92", 406), ("1.0", 406), ("2.05", 400),
                                       # well-formed, too long for int(): out of range (a 500 before)
                                       ("2." + "9" * 5000, 406), ("9" * 5000 + ".0", 406), ("2.1234567", 406),
                                       ("9" * 5000, 400)],
                         ids=lambda v: v if not isinstance(v, str) or len(v) < 20 else f"{v[:8]}...({len(v)})")
def test_bad_versions(text, code):
    with pytest.raises(Fault) as info:
        requested_version({"X-OPENSTACK-MANILA-API-VERSION": text})
    assert info.value.code == code
