"""The retention rules' own edges (the restic oracle, tests/oracles, checks the whole)."""
from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from sharebackup.core.retention import Retention, Within, apply

UTC = dt.timezone.utc


def _at(*parts, tz=UTC) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=tz)


@pytest.mark.parametrize("text, expected", [
    ("30d", Within(days=30)), ("1y6m", Within(years=1, months=6)), ("2y5m7d3h", Within(2, 5, 7, 3)),
    ("P30D", Within(days=30)), ("PT12H", Within(hours=12)), ("P1Y2M3W4DT5H", Within(1, 2, 25, 5)),
    ("p2w", Within(days=14)),
])
def test_durations_in_restic_and_iso_forms(text, expected):
    assert Within.parse(text) == expected


@pytest.mark.parametrize("text", ["", "P", "PT", "30", "1x", "P1.5D", "-3d", "PT5M"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError):
        Within.parse(text)


def test_calendar_steps_roll_over_as_gos_adddate():
    # March 31 minus a month is "February 31", which Go normalises to March 2 in a leap year
    assert Within(months=1).before(_at(2024, 3, 31, 12)) == _at(2024, 3, 2, 12)
    assert Within(years=1).before(_at(2024, 2, 29)) == _at(2023, 3, 1)
    assert Within(days=1, hours=2).before(_at(2025, 1, 1, 1)) == _at(2024, 12, 30, 23)


@pytest.mark.parametrize("field", ["keep_last", "keep_daily", "keep_yearly"])
def test_negative_or_non_integer_keeps_are_refused(field):
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(ValueError, match=field):
            Retention(**{field: bad})


def test_a_policy_without_rules_is_refused():
    with pytest.raises(ValueError, match="at least one"):
        apply([("a", _at(2025, 1, 1))], Retention())


def test_days_begin_in_the_zone_given():
    """23:30 UTC on Jan 1 is already Jan 2 in Berlin: one daily bucket there, two in UTC."""
    snaps = [("late", _at(2025, 1, 1, 23, 30)), ("next", _at(2025, 1, 2, 8, 0))]
    kept_utc = {d.id for d in apply(snaps, Retention(keep_daily=5)) if d.keep}
    kept_berlin = {d.id for d in apply(snaps, Retention(keep_daily=5), zoneinfo.ZoneInfo("Europe/Berlin")) if d.keep}
    assert kept_utc == {"late", "next"}
    assert kept_berlin == {"next"}  # the newest of the Berlin day


def test_reasons_name_every_rule_that_keeps():
    snaps = [("a", _at(2025, 6, 1)), ("b", _at(2025, 5, 1))]
    decisions = apply(snaps, Retention(keep_last=1, keep_monthly=2, keep_within=Within(days=3)))
    assert [(d.id, d.reasons) for d in decisions] == [
        ("a", ("within 3d", "last snapshot", "monthly snapshot")), ("b", ("monthly snapshot",))]
