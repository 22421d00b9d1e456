"""When a backup policy is due: a 5-field cron expression in the policy's timezone, or an
ISO 8601 interval ("PT6H").

Cron slots are wall-clock times in the zone (croniter walks them on naive local times), then
placed on the time line with zoneinfo: a slot in the spring-forward gap (02:30 on the night
clocks jump from 02:00 to 03:00) is read with the offset in force before the jump, so it runs
at 03:30 (the same instant as 02:30 "winter time"), and a slot in the repeated hour of autumn
is taken once (its first occurrence). So a daily run is neither skipped nor doubled
by a DST change. Interval slots are absolute: anchor + k x interval.

A slot's UTC instant is the run's identity (the database keeps one backup per policy, share
and slot); after downtime only the newest missed slot runs (one catch-up run).
"""
from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass

from croniter import croniter

UTC = dt.timezone.utc
_INTERVAL = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
LONGEST_INTERVAL = dt.timedelta(days=3660)  # beyond this a date computation can leave the calendar
_SAMPLED_CRON_SLOTS = 400  # enough to see the shortest gap of any 5-field expression over a year


def zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}: give an IANA name such as UTC or Europe/Berlin") from None


@dataclass(frozen=True)
class Schedule:
    text: str
    tz: dt.tzinfo
    interval: dt.timedelta | None  # None: a cron expression
    anchor: dt.datetime  # interval slots are anchor + k x interval (aware)

    @classmethod
    def parse(cls, text: str, tz_name: str = "UTC", min_interval_seconds: float = 3600,
              anchor: dt.datetime | None = None) -> "Schedule":
        """Raise ValueError with a message a user can act on."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("schedule must be a 5-field cron expression (0 2 * * *) or an ISO 8601 interval (PT6H)")
        text = text.strip()
        schedule = cls(text, zone(tz_name), _interval(text), (anchor or dt.datetime(2000, 1, 1, tzinfo=UTC)))
        if schedule.interval is None and (len(text.split()) != 5 or not croniter.is_valid(text)):
            raise ValueError(f"schedule {text!r} is neither a 5-field cron expression (minute hour day month "
                             "weekday, e.g. 0 2 * * *) nor an ISO 8601 interval (e.g. PT6H)")
        if min_interval_seconds <= 0:
            return schedule  # a stored schedule, checked when it was written: no sampling of its gaps
        shortest = schedule.shortest_gap()
        if shortest.total_seconds() < min_interval_seconds:
            raise ValueError(f"schedule {text!r} runs every {_human(shortest)}; the shortest interval allowed is "
                             f"{_human(dt.timedelta(seconds=min_interval_seconds))} ([policies] min_interval_seconds)")
        return schedule

    def latest_slot(self, now: dt.datetime) -> dt.datetime:
        """The newest slot at or before ``now``, as a UTC instant."""
        if self.interval is not None:
            steps = (now - self.anchor) // self.interval
            return (self.anchor + steps * self.interval).astimezone(UTC)
        local = now.astimezone(self.tz).replace(tzinfo=None)
        walk = croniter(self.text, local + dt.timedelta(seconds=1))
        while True:  # the gap's slots land after `now` on the time line: step back past them
            slot = self._placed(walk.get_prev(dt.datetime))
            if slot <= now:
                return slot

    def next_slot(self, after: dt.datetime) -> dt.datetime:
        """The first slot strictly after ``after``, as a UTC instant."""
        if self.interval is not None:
            return self.latest_slot(after) + self.interval
        walk = croniter(self.text, after.astimezone(self.tz).replace(tzinfo=None) - dt.timedelta(hours=3))
        while True:
            slot = self._placed(walk.get_next(dt.datetime))
            if slot > after:
                return slot

    def shortest_gap(self) -> dt.timedelta:
        if self.interval is not None:
            return self.interval
        walk = croniter(self.text, dt.datetime(2001, 1, 1))  # no DST in naive time: the rule's own gaps
        slots = [walk.get_next(dt.datetime) for _ in range(_SAMPLED_CRON_SLOTS)]
        return min(b - a for a, b in zip(slots, slots[1:]))

    def _placed(self, wall: dt.datetime) -> dt.datetime:
        return wall.replace(tzinfo=self.tz, fold=0).astimezone(UTC)


def _interval(text: str) -> dt.timedelta | None:
    match = _INTERVAL.match(text.upper())
    if not match or text.upper() in ("P", "PT") or text.upper().endswith("T"):
        return None
    weeks, days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    try:
        value = dt.timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        value = None
    if value is None or value > LONGEST_INTERVAL:
        raise ValueError(f"schedule {text!r} is longer than the longest interval allowed (P3660D, about ten years)")
    if not value:
        raise ValueError(f"schedule {text!r} is an empty interval")
    return value


def _human(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def due_slot(latest: dt.datetime, last_slot: dt.datetime | None, since: dt.datetime) -> dt.datetime | None:
    """The slot to run now, or None. ``latest`` is ``schedule.latest_slot(now)`` (worked out once
    per policy and tick, whatever the number of shares), ``last_slot`` the newest slot already
    run for this share, ``since`` when the policy or the attachment began. After downtime this
    is one run for all the missed slots: the newest one."""
    if latest < since or (last_slot is not None and latest <= last_slot):
        return None
    return latest
