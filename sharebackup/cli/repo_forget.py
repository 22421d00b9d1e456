"""`sharebackup repo forget`: one snapshot by id, or restic's --keep-* retention over all.

Snapshots are grouped by host and paths, as restic groups them by default, and the policy
(sharebackup/core/retention.py, shared with the service's backup policies) runs per group.
"""
from __future__ import annotations

import argparse
import datetime as dt

from sharebackup import engine
from sharebackup.core import retention
from sharebackup.cli.repo_output import Output

KEEP_COUNTS = ("last", "hourly", "daily", "weekly", "monthly", "yearly")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("snapshot", nargs="?", help="snapshot id (or prefix) to drop; or give --keep-* rules")
    for name in KEEP_COUNTS:
        p.add_argument(f"--keep-{name}", dest=f"keep_{name}", type=_count, default=0, metavar="N",
                       help=f"keep the newest snapshot of each of the last N {name if name != 'last' else ''} "
                            f"{'periods' if name != 'last' else 'snapshots'}".replace("  ", " "))
    p.add_argument("--keep-within", dest="keep_within", type=_within, default=retention.Within(), metavar="DUR",
                   help="keep every snapshot newer than the newest one minus DUR (30d, 1y6m, P30D ...)")
    p.add_argument("--timezone", help="the IANA zone in which hours, days and weeks begin (default: this host's)")
    p.add_argument("--dry-run", action="store_true", help="only say what would be dropped")


def forget(args, repo, refuse) -> int:
    policy = retention.Retention(**{f"keep_{n}": getattr(args, f"keep_{n}") for n in KEEP_COUNTS},
                                 keep_within=args.keep_within)
    if args.snapshot and policy:
        raise refuse("give a snapshot id or --keep-* rules, not both")
    if args.snapshot:
        full = args.snapshot if args.dry_run else engine.forget(repo, args.snapshot)
        Output(args.json, "forget").result({"forgotten": full}, [f"forgot snapshot {full} (run gc to free space)"])
        return 0
    if not policy:
        raise refuse("nothing to forget: give a snapshot id or at least one --keep-* rule")
    groups = _decide(repo.list_snapshots(), policy, _zone(args.timezone, refuse))
    if not args.dry_run:
        for group in groups:
            for decision in group["remove"]:
                engine.forget(repo, decision["id"])
    Output(args.json, "forget").result({"groups": groups, "dry_run": args.dry_run}, _lines(groups, args.dry_run))
    return 0


def _decide(snapshots: list[dict], policy: retention.Retention, tz: dt.tzinfo) -> list[dict]:
    grouped: dict[tuple, list[dict]] = {}
    for snap in snapshots:
        grouped.setdefault((snap["hostname"], tuple(snap["paths"])), []).append(snap)
    out = []
    for (host, paths), members in sorted(grouped.items()):
        times = [(s["id"], dt.datetime.fromtimestamp(s["time_ns"] / 1e9, dt.timezone.utc)) for s in members]
        decisions = retention.apply(times, policy, tz)
        entry = lambda d: {"id": d.id, "time": d.time.isoformat(), "reasons": list(d.reasons)}  # noqa: E731
        out.append({"host": host, "paths": list(paths), "keep": [entry(d) for d in decisions if d.keep],
                    "remove": [entry(d) for d in decisions if not d.keep]})
    return out


def _lines(groups: list[dict], dry_run: bool) -> list[str]:
    lines = []
    for group in groups:
        lines.append(f"{group['host']} {' '.join(group['paths'])}: keep {len(group['keep'])}, "
                     f"{'would remove' if dry_run else 'removed'} {len(group['remove'])}")
        lines += [f"  keep   {d['id'][:16]} {d['time']}  ({', '.join(d['reasons'])})" for d in group["keep"]]
        lines += [f"  remove {d['id'][:16]} {d['time']}" for d in group["remove"]]
    if not dry_run and any(g["remove"] for g in groups):
        lines.append("run gc to free the space")
    return lines


def _zone(name: str | None, refuse) -> dt.tzinfo:
    import zoneinfo  # here: the other commands start without it (4 ms cold)

    if not name:
        return dt.datetime.now().astimezone().tzinfo
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise refuse(f"unknown timezone {name!r} (give an IANA name such as Europe/Berlin)") from None


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("give 0 or more")
    return value


def _within(text: str) -> retention.Within:
    try:
        return retention.Within.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
