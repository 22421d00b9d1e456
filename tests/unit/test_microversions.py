"""Microversions as data: parsing, ordering, and handlers whose windows must not overlap."""
from __future__ import annotations

import pytest

from sharebackup.api import microversion
from sharebackup.faults import Fault
from sharebackup.api.microversion import APIVersion, requested_version
from sharebackup.api.operations import op, responder


def test_versions_list_is_ordered_and_contiguous():
    parsed = [APIVersion.parse(v) for v in microversion.VERSIONS]
    assert parsed == sorted(parsed)
    assert [v.minor for v in parsed] == list(range(0, len(parsed)))
    assert str(microversion.MAX_VERSION) == "2.91"


def test_overlapping_windows_are_refused():
    responder([op(lambda *a: None, "r", "2.0", "2.79"), op(lambda *a: None, "r", "2.80")])
    with pytest.raises(ValueError, match="overlap"):
        responder([op(lambda *a: None, "r", "2.0", "2.79"), op(lambda *a: None, "r", "2.80"),
                   op(lambda *a: None, "r", "2.85", "2.90")])


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


def _gated_versions() -> dict[str, set[str]]:
    """Every version literal the API code compares with ("2.41" in matches("2.41"), a route's
    window, a versioned field table), with the files that use it."""
    import ast
    import pathlib
    import re
    api = pathlib.Path(microversion.__file__).parent
    found: dict[str, set[str]] = {}
    for path in api.rglob("*.py"):
        if path.name == "microversion.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"2\.\d+", node.value):
                found.setdefault(node.value, set()).add(str(path.relative_to(api)))
    return found


def test_versions_is_a_true_changelog():
    """Issue 9: twenty entries said "no change" for versions the code gates on."""
    gated = _gated_versions()
    assert {"2.7", "2.25", "2.32", "2.64", "2.80", "2.91"} <= set(gated)  # the scan sees the gates
    silent = {version: sorted(files) for version, files in gated.items()
              if microversion.CHANGES.get(version, microversion.NO_CHANGE) == microversion.NO_CHANGE}
    assert silent == {}


def test_the_changelog_is_every_version_in_order():
    assert microversion.VERSIONS == [f"2.{minor}" for minor in range(len(microversion.VERSIONS))]
