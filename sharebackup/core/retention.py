"""Which backups a retention policy keeps: restic's `forget --keep-*`, exactly.

One function for the engine's `repo forget --keep-*` and for the service's backup policies.
The rules, as restic 0.14 applies them (internal/restic/snapshot_policy.go):
- snapshots are taken newest first;
- each rule has a counter and a bucket function (last: every snapshot its own bucket;
  hourly: year-month-day-hour; daily: year-month-day; weekly: ISO year and week; monthly;
  yearly); a snapshot whose bucket differs from the last bucket that rule kept is kept by the
  rule, while its counter lasts; so the newest snapshot of each bucket is the one kept;
- keep_within keeps every snapshot strictly newer than the newest one minus the duration
  (years, months and days as calendar steps, as Go's AddDate, then hours);
- a snapshot is kept when any rule keeps it.
Buckets are read in the timezone given (restic uses the zone each snapshot was recorded in;
ours are recorded in UTC, so the caller says which zone days begin in).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, fields

_RESTIC_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)m)?(?:(\d+)d)?(?:(\d+)h)?$")
_ISO_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?)?$")


@dataclass(frozen=True)
class Within:
    """A calendar duration: restic's `2y5m7d3h` or ISO 8601's `P2Y5M7DT3H`."""
    years: int = 0
    months: int = 0
    days: int = 0
    hours: int = 0

    @classmethod
    def parse(cls, text: str) -> "Within":
        text = text.strip()
        restic = _RESTIC_DURATION.match(text)
        if restic and text:
            return cls(*(int(part or 0) for part in restic.groups()))._bounded(text)
        iso = _ISO_DURATION.match(text.upper())
        if iso and text.upper() not in ("P", "PT") and not text.upper().endswith("T"):
            years, months, weeks, days, hours = (int(part or 0) for part in iso.groups())
            return cls(years, months, weeks * 7 + days, hours)._bounded(text)
        raise ValueError(f"{text!r} is not a duration: give e.g. 30d, 1y6m or P30D, PT12H (years, months, "
                         "weeks, days and hours)")

    def __bool__(self) -> bool:
        return any((self.years, self.months, self.days, self.hours))

    def _bounded(self, text: str) -> "Within":
        """At most 1,000 years in all: a longer one cannot be subtracted from a date."""
        if self.years * 366 + self.months * 31 + self.days + self.hours / 24 > 1000 * 366:
            raise ValueError(f"{text!r} is longer than 1000 years")
        return self

    def before(self, moment: dt.datetime) -> dt.datetime:
        """`moment` minus this duration, as Go's t.AddDate(-y, -m, -d).Add(-h)."""
        month_index = moment.month - 1 - self.months
        year = moment.year - self.years + month_index // 12
        first = moment.replace(year=year, month=month_index % 12 + 1, day=1)
        shifted = first + dt.timedelta(days=moment.day - 1 - self.days)  # day overflow rolls on, as Go's
        return shifted - dt.timedelta(hours=self.hours)


@dataclass(frozen=True)
class Retention:
    keep_last: int = 0
    keep_hourly: int = 0
    keep_daily: int = 0
    keep_weekly: int = 0
    keep_monthly: int = 0
    keep_yearly: int = 0
    keep_within: Within = Within()

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "keep_within" and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise ValueError(f"{f.name} must be a whole number, 0 or more")

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))


_BUCKETS = (
    ("keep_last", "last snapshot", None),
    ("keep_hourly", "hourly snapshot", lambda t: (t.year, t.month, t.day, t.hour)),
    ("keep_daily", "daily snapshot", lambda t: (t.year, t.month, t.day)),
    ("keep_weekly", "weekly snapshot", lambda t: tuple(t.isocalendar())[:2]),
    ("keep_monthly", "monthly snapshot", lambda t: (t.year, t.month)),
    ("keep_yearly", "yearly snapshot", lambda t: t.year),
)


_NONE = object()  # "no bucket kept yet" for a rule


@dataclass(frozen=True)
class Decision:
    id: str
    time: dt.datetime
    keep: bool
    reasons: tuple[str, ...]


def apply(snapshots: list[tuple[str, dt.datetime]], policy: Retention,
          tz: dt.tzinfo = dt.timezone.utc) -> list[Decision]:
    """Decide for each (id, aware time): newest first, with the rules that keep it."""
    if not policy:
        raise ValueError("a retention policy needs at least one keep rule")
    ordered = sorted(snapshots, key=lambda item: item[1], reverse=True)  # stable for equal times, as restic's
    if not ordered:
        return []
    counts = {name: getattr(policy, name) for name, _, _ in _BUCKETS}
    last: dict[str, object] = {}
    threshold = policy.keep_within.before(ordered[0][1].astimezone(tz)) if policy.keep_within else None
    decisions = []
    for number, (snap_id, moment) in enumerate(ordered):
        local = moment.astimezone(tz)
        reasons = ["within " + _within_text(policy.keep_within)] if threshold and moment > threshold else []
        for name, reason, bucket in _BUCKETS:
            if counts[name] <= 0:
                continue
            value = number if bucket is None else bucket(local)
            if last.get(name, _NONE) != value:
                last[name] = value
                counts[name] -= 1
                reasons.append(reason)
        decisions.append(Decision(snap_id, moment, bool(reasons), tuple(reasons)))
    return decisions


def _within_text(within: Within) -> str:
    return "".join(f"{n}{unit}" for n, unit in zip((within.years, within.months, within.days, within.hours),
                                                   "ymdh") if n)
