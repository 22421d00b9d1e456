"""Schedules on a fake clock: exact run counts over a simulated month, one catch-up run after
an outage, and DST changes in Europe/Berlin that neither skip nor double a daily run."""
from __future__ import annotations

import datetime as dt

import pytest

from sharebackup.core.schedule import Schedule, due_slot

UTC = dt.timezone.utc
SHARES = 50


def _simulate(schedule: Schedule, start: dt.datetime, end: dt.datetime, tick: dt.timedelta,
              down: tuple[dt.datetime, dt.datetime] | None = None) -> dict[int, list[dt.datetime]]:
    """A scheduler loop on a fake clock: every tick, each share's due slot runs once."""
    runs: dict[int, list[dt.datetime]] = {share: [] for share in range(SHARES)}
    now = start
    while now < end:
        if not (down and down[0] <= now < down[1]):
            latest = schedule.latest_slot(now)
            for share, done in runs.items():
                slot = due_slot(latest, done[-1] if done else None, since=start)
                if slot is not None:
                    done.append(slot)
        now += tick
    return runs


def test_a_month_of_hourly_and_daily_policies_in_utc():
    start, end = dt.datetime(2025, 1, 1, tzinfo=UTC), dt.datetime(2025, 2, 1, tzinfo=UTC)
    hourly = _simulate(Schedule.parse("0 * * * *"), start, end, dt.timedelta(minutes=7))
    daily = _simulate(Schedule.parse("30 2 * * *"), start, end, dt.timedelta(minutes=7))
    interval = _simulate(Schedule.parse("PT6H"), start, end, dt.timedelta(minutes=7))
    assert {len(r) for r in hourly.values()} == {31 * 24}
    assert {len(r) for r in daily.values()} == {31}
    assert {len(r) for r in interval.values()} == {31 * 4}
    assert all(len(set(r)) == len(r) for r in hourly.values())  # no slot twice
    assert daily[0][0] == dt.datetime(2025, 1, 1, 2, 30, tzinfo=UTC)


def test_dst_changes_in_berlin_neither_skip_nor_double_a_daily_run():
    """March 30 (02:00 -> 03:00) and October 26 (03:00 -> 02:00) of 2025, a run at 02:30."""
    schedule = Schedule.parse("30 2 * * *", "Europe/Berlin")
    for start in (dt.datetime(2025, 3, 25, tzinfo=UTC), dt.datetime(2025, 10, 21, tzinfo=UTC)):
        runs = _simulate(schedule, start, start + dt.timedelta(days=10), dt.timedelta(minutes=5))
        days = [slot.astimezone(schedule.tz).date() for slot in runs[0]]
        assert days == [start.date() + dt.timedelta(days=i) for i in range(10)]  # one a day, none missing
    berlin = schedule.tz
    spring = [s.astimezone(berlin) for s in _simulate(schedule, dt.datetime(2025, 3, 29, 12, tzinfo=UTC),
                                                      dt.datetime(2025, 3, 31, 12, tzinfo=UTC),
                                                      dt.timedelta(minutes=5))[0]]
    assert [s.strftime("%d %H:%M %Z") for s in spring] == ["30 03:30 CEST", "31 02:30 CEST"]  # the gap's run: just after


def test_hourly_in_berlin_runs_once_per_real_hour_across_dst():
    schedule = Schedule.parse("0 * * * *", "Europe/Berlin")
    start, end = dt.datetime(2025, 3, 1, tzinfo=UTC), dt.datetime(2025, 4, 1, tzinfo=UTC)
    runs = _simulate(schedule, start, end, dt.timedelta(minutes=10))
    assert {len(r) for r in runs.values()} == {31 * 24}  # UTC hours: the skipped wall hour is no real hour
    assert len(set(runs[0])) == len(runs[0])


def test_after_a_three_day_outage_one_catch_up_run():
    schedule = Schedule.parse("0 * * * *")
    start = dt.datetime(2025, 1, 1, tzinfo=UTC)
    outage = (dt.datetime(2025, 1, 10, 5, 20, tzinfo=UTC), dt.datetime(2025, 1, 13, 5, 20, tzinfo=UTC))
    runs = _simulate(schedule, start, dt.datetime(2025, 1, 20, tzinfo=UTC), dt.timedelta(minutes=10), down=outage)
    slots = runs[7]
    assert len(slots) == 19 * 24 - 3 * 24 + 1  # the outage's 72 slots become one
    catch_up = [s for s in slots if outage[0] <= s < outage[1]]
    assert catch_up == [dt.datetime(2025, 1, 13, 5, tzinfo=UTC)]  # the newest missed slot, once
    assert slots[slots.index(catch_up[0]) + 1] == dt.datetime(2025, 1, 13, 6, tzinfo=UTC)  # then on time again


@pytest.mark.parametrize("text, tz, message", [
    ("0 2 * *", "UTC", "5-field cron"),
    ("0 2 * * * *", "UTC", "5-field cron"),
    ("61 2 * * *", "UTC", "5-field cron"),
    ("*/5 * * * *", "UTC", "runs every 5 minutes"),
    ("PT30M", "UTC", "runs every 30 minutes"),
    ("P0D", "UTC", "empty interval"),
    ("0 2 * * *", "Mars/Olympus", "unknown timezone"),
    ("", "UTC", "5-field cron"),
])
def test_bad_schedules_say_why(text, tz, message):
    with pytest.raises(ValueError, match=message):
        Schedule.parse(text, tz)


def test_the_minimum_interval_is_configurable():
    assert Schedule.parse("PT5S", min_interval_seconds=5).interval == dt.timedelta(seconds=5)
