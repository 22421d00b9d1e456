"""Every job kind is named once (queue/kinds.py), in one scheme, and has exactly one runner."""
from __future__ import annotations

import re

from sharebackup.queue import kinds
from sharebackup.workflows.runners import build_runners


def test_kinds_follow_one_naming_scheme():
    assert len(set(kinds.ALL)) == len(kinds.ALL)
    assert [k for k in kinds.ALL if not re.fullmatch(r"[a-z_]+\.[a-z_]+", k)] == []


def test_every_kind_has_a_runner_and_every_runner_a_kind(sqlite_runtime):
    assert set(build_runners(sqlite_runtime)) == set(kinds.ALL)
