"""pyproject.toml builds without warnings of our own making (`make run` printed setuptools'
"project.license as a TOML table is deprecated" on every fresh clone)."""
from __future__ import annotations

import pathlib
import re
import tomllib

PYPROJECT = tomllib.loads((pathlib.Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())


def test_license_is_an_spdx_string():
    assert isinstance(PYPROJECT["project"]["license"], str)
    assert not any(c.startswith("License ::") for c in PYPROJECT["project"].get("classifiers", []))


def test_build_backend_understands_spdx_licenses():
    """setuptools reads a string license as SPDX from 77 on; older ones would refuse it."""
    pins = [r for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools")]
    assert pins and int(re.search(r">=(\d+)", pins[0]).group(1)) >= 77
