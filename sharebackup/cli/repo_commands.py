"""`sharebackup repo ...`: the admin command line over the backup engine.

The flags are a contract outside scripts rely on:
    sharebackup repo init --repo PATH [--key-file F | --encrypt]
    sharebackup repo backup --repo PATH SRC [--parent SNAP | --force]   (snapshot id on the last line)
    sharebackup repo snapshots --repo PATH
    sharebackup repo restore --repo PATH SNAP TARGET [--mode merge|replace]
    sharebackup repo forget --repo PATH SNAP
    sharebackup repo gc --repo PATH
    sharebackup repo check --repo PATH [--read-data]
    sharebackup repo stats --repo PATH
Instead of --repo PATH every command takes --name NAME [--config F] [--state-dir D]: a
repository configured for the service ([backup] repositories; "default" is
<state_dir>/repository), opened with the configured [backup] key_file unless --key-file is given:
    sharebackup repo gc --name NAME [--config F] [--grace S] [--wait S]
    sharebackup repo check --name NAME [--config F] [--read-data | --read-data-subset N%]
`repo gc --name` also takes the repository's lease in the service's database (so workers hold
back new backups meanwhile), waits up to --wait seconds for running ones, forgets the orphan
snapshots of deleted backups, and exits 1 with a message when someone else holds the lease.
`repo gc --repo` is the engine's gc alone (it only takes the repository's own lock).
Every command also takes the passphrase of an encrypted repository (--key-file F or
--password-file F, $SHAREBACKUP_KEY_FILE, $SHAREBACKUP_PASSWORD, or a prompt on a terminal; `init`
encrypts whenever one is given) and --json for JSON-lines progress and a JSON result last.
A progress bar is drawn on stderr only when stderr is a terminal.
Exit codes: 0 success; 1 failure (engine error, check found damage, restore had
errors); 3 backup saved a snapshot but some files could not be read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from sharebackup import engine
from sharebackup.cli import repo_browse, repo_forget, repo_keys
from sharebackup.cli.repo_output import Output, human_bytes, human_lines
from sharebackup.engine.maintenance import DEFAULT_GRACE


class _Refused(Exception):
    """A request we turn down with a message (exit 1), not an engine failure."""


def _service_config(args):
    from sharebackup.config import load_config
    return load_config(args.config, state_dir=args.state_dir)


def _location(args) -> str:
    if args.repo:
        return args.repo
    from sharebackup.workflows import backup_repository
    return backup_repository.location(_service_config(args), args.name)


def _key(args) -> bytes | None:
    configured = _service_config(args).backup.key_file or None if getattr(args, "name", None) else None
    return repo_keys.given_key(args, configured)  # with --name: the service's key for its repositories


def _open(args, load_index: bool = True):
    store = engine.open_store(_location(args))
    key = _key(args)
    try:
        return engine.Repository.open(store, key=key, load_index=load_index)
    except engine.WrongKeyError:
        if key is not None:
            raise
        key = repo_keys.prompted_key(confirm=False)
        if key is None:
            raise _Refused(f"this repository is encrypted: give its passphrase with {repo_keys.SOURCES}") from None
        return engine.Repository.open(store, key=key, load_index=load_index)


def cmd_init(args) -> int:
    key = _key(args)  # a passphrase given in any way means encryption: never silently none
    if args.encrypt and not key:
        key = repo_keys.prompted_key(confirm=True)
        if not key:
            raise _Refused(f"--encrypt needs a passphrase ({repo_keys.SOURCES}), or a terminal to type it on")
    location = _location(args)
    store = engine.open_store(location)
    if not store.exists("config") and next(iter(store.list()), None) is not None:
        raise _Refused(f"{location} is not empty and holds no repository: give a new or empty directory")
    repo = engine.Repository.init(store, key=key)
    out = Output(args.json, "init")
    out.result({"repository": location, "id": repo.config["id"], "encryption": repo.config["encryption"],
                "format_version": repo.config["version"]},
               [f"created repository {repo.config['id']} at {location} (encryption: {repo.config['encryption']})"])
    return 0


def cmd_backup(args) -> int:
    if not os.path.isdir(args.src):
        raise _Refused(f"{args.src}: {'not a directory' if os.path.exists(args.src) else 'no such directory'}")
    repo = _open(args)
    out = Output(args.json, "backup")
    snap_id = engine.backup(repo, args.src, parent=_parent(repo, args), progress=out.callback, report=out.report,
                            hostname=args.hostname, tags=args.tag or (), snapshot_time_ns=args.time)
    summary = repo.load_snapshot(snap_id)["summary"]
    errors = [w for w in repo.load_snapshot(snap_id)["warnings"] if w["kind"] in ("error", "vanished")]
    lines = [f"files: {summary.get('files_new', 0)} new, {summary.get('files_changed', 0)} changed, "
             f"{summary.get('files_unmodified', 0)} unmodified ({human_bytes(summary['total_bytes'])}); "
             f"{summary.get('dirs', 0)} dirs; {summary['duration_s']:.1f} s"
             + (f"; {summary['warnings']} warning(s)" if summary["warnings"] else ""),
             # new file contents and directory listings alike: on a small tree it may exceed the files' size
             f"new data: {human_bytes(summary['data_added'])} with the directory listings, "
             f"{human_bytes(summary['data_added_stored'])} stored after compression",
             snap_id]
    out.result({"snapshot_id": snap_id, "summary": summary}, lines)
    return 3 if errors else 0


def _parent(repo, args) -> str | None:
    """--parent, or else (as restic does) the newest snapshot of the same path from the same host,
    whose unchanged files are then not read again; --force reads everything."""
    if args.parent or args.force:
        return args.parent
    src, host = os.path.abspath(args.src), args.hostname or os.uname().nodename
    same = [s for s in repo.list_snapshots() if s["paths"] == [src] and s["hostname"] == host]
    return same[-1]["id"] if same else None


def cmd_snapshots(args) -> int:
    repo = _open(args)
    snaps = repo.list_snapshots()
    out = Output(args.json, "snapshots")
    lines = [f"{'id':<16} {'time':<20} {'host':<16} {'tags':<16} {'size':>10}  path"]
    for s in snaps:
        tags = ",".join(s.get("tags") or ())
        lines.append(f"{s['id'][:16]} {s['time']:<20} {s['hostname'][:16]:<16} {tags:<16} "
                     f"{human_bytes(s['summary'].get('total_bytes', 0)):>10}  {' '.join(s['paths'])}")
    lines.append(f"{len(snaps)} snapshot(s)")
    docs = [{k: s[k] for k in ("id", "time", "hostname", "paths", "tags", "parent", "tree", "summary")} for s in snaps]
    out.result({"snapshots": docs}, lines)
    return 0


def cmd_restore(args) -> int:
    repo = _open(args)
    out = Output(args.json, "restore")
    summary = engine.restore(repo, args.snapshot, args.target, mode=args.mode, progress=out.callback,
                             report=out.report, include=args.include or (), exclude=args.exclude or ())
    lines = [f"restored {summary['files']} files, {summary['dirs']} dirs, {summary['symlinks']} symlinks, "
             f"{summary['hardlinks']} hard links, {human_bytes(summary['bytes'])} into {args.target}"]
    if summary["errors"]:
        lines.append(f"{len(summary['errors'])} error(s)")
    out.result({k: v for k, v in summary.items() if k != "warnings"}, lines)
    return 1 if summary["errors"] else 0


def cmd_forget(args) -> int:
    return repo_forget.forget(args, _open(args), _Refused)


def cmd_gc(args) -> int:
    if args.name:
        stats = _gc_under_lease(args)
    else:
        grace = DEFAULT_GRACE if args.grace is None else args.grace
        stats = engine.gc(_open(args), grace=grace, wait=args.wait or 0.0)
    lines = human_lines(stats)
    if stats.get("packs_kept_for_grace"):
        grace = DEFAULT_GRACE if args.grace is None else args.grace
        lines.append(f"note: {stats['packs_kept_for_grace']} pack(s) holding unused data are younger than the "
                     f"grace{f' ({grace:g} s)' if not args.name else ''} and were kept, in case a running backup "
                     "still needs them; --grace 0 collects them now if no backup is running")
    Output(args.json, "gc").result({"gc": stats}, lines)
    return 0


def _gc_under_lease(args) -> dict:
    """gc of a configured repository through the service's database lease (workflows/gc_jobs.py)."""
    from sqlalchemy.exc import SQLAlchemyError

    from sharebackup.core.runtime import Runtime
    from sharebackup.workflows import gc_jobs, repository_lease

    conf = _service_config(args)
    if args.key_file:  # an explicit key file wins over the configured one
        from dataclasses import replace
        conf = replace(conf, backup=replace(conf.backup, key_file=args.key_file))
    rt = Runtime.for_tools(conf)
    db = rt.db
    try:
        stats = gc_jobs.collect(rt, args.name, grace=args.grace, wait=args.wait,
                                holder=repository_lease.new_holder_name("cli"))
    except repository_lease.LeaseHeld as exc:
        raise _Refused(f"{exc}; try again once it is done (a holder that died lets its lease run out)") from None
    except gc_jobs.GcNotDone as exc:
        raise _Refused(str(exc)) from None
    except SQLAlchemyError as exc:
        url = db.engine.url.render_as_string(hide_password=True)
        raise _Refused(f"the database at {url} could not be used ({type(exc).__name__}: "
                       f"{str(exc).splitlines()[0]}); is it set up (`sharebackup db upgrade`)?") from None
    finally:
        db.dispose()
    return stats or {"nothing_to_collect": "the repository does not exist yet"}


def cmd_check(args) -> int:
    repo = _open(args, load_index=False)
    out = Output(args.json, "check", unit="packs")
    read_data = True if args.read_data else (args.read_data_subset or False)
    result = engine.check(repo, read_data=read_data, progress=out.callback if read_data else None)
    lines = [f"warning: {w}" for w in result.warnings] + [f"error: {e}" for e in result.errors]
    lines.append(("no errors found" if result.ok else f"{len(result.errors)} error(s) found") +
                 " (" + ", ".join(f"{k} {v}" for k, v in result.stats.items()) + ")")
    out.result({"ok": result.ok, "errors": result.errors, "warnings": result.warnings, "stats": result.stats}, lines)
    if args.name:
        _record_check(args, "ok" if result.ok else f"{len(result.errors)} error(s)")
    return 0 if result.ok else 1


def _record_check(args, verdict: str) -> None:
    """A configured repository's check is remembered in the service's database (the console's
    "last check"); a database that cannot be reached only costs that record."""
    from sharebackup.core.runtime import Runtime
    from sharebackup.workflows import repository_lease
    rt = Runtime.for_tools(_service_config(args))
    try:
        repository_lease.record_check(rt.db, args.name, verdict)
    except Exception as exc:  # noqa: BLE001 - the check itself is done and printed
        print(f"sharebackup: the check was not recorded in the database ({type(exc).__name__})", file=sys.stderr)
    finally:
        rt.db.dispose()


def cmd_stats(args) -> int:
    repo = _open(args)
    st = engine.stats(repo)
    Output(args.json, "stats").result({"stats": st}, human_lines(st))
    return 0


def _opened(func):
    """A browse command, called with the opened repository."""
    return lambda args: func(args, _open(args))


def _expected_errors() -> tuple:
    """The failures a command reports in a line. The service's configuration is imported here, when
    one happens: a command given --repo never needs it (about 10 ms of a cold start)."""
    from sharebackup.config import ConfigError
    from sharebackup.workflows.backup_repository import UnknownRepository
    return engine.EngineError, _Refused, UnknownRepository, ConfigError, repo_keys.KeyUnavailable


def _guard(func):
    def run(args) -> int:
        try:
            return func(args)
        except Exception as exc:
            if not isinstance(exc, _expected_errors()):
                raise
            if getattr(args, "json", False):
                print(json.dumps({"event": "error", "error": type(exc).__name__, "message": str(exc)}), flush=True)
            print(f"sharebackup: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("sharebackup: interrupted", file=sys.stderr)
            return 130
    return run


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError("give 0 or more seconds")
    return value


def _moment(text: str) -> int:
    """An ISO 8601 time as nanoseconds since the epoch."""
    import datetime as dt
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time (2025-01-31T02:00:00Z)") from None
    return int(moment.timestamp() * 1_000_000) * 1000  # a naive time is read as local, as restic does


def _subset(text: str) -> float:
    value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError("give a fraction in (0, 1] or a percentage")
    return value


def add_repo_parser(subparsers) -> None:
    repo = subparsers.add_parser("repo", help="backup repository administration (the engine)",
                                 description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = repo.add_subparsers(dest="repo_command", required=True)

    def command(name, func, help_text):
        p = sub.add_parser(name, help=help_text)
        where = p.add_mutually_exclusive_group(required=True)
        where.add_argument("--repo", help="repository path (or URL)")
        where.add_argument("--name", help="name of a repository configured for the service (see --config)")
        p.add_argument("--config", help="with --name: the service's INI configuration file")
        p.add_argument("--state-dir", dest="state_dir", help="with --name: the service's state directory")
        keys = p.add_mutually_exclusive_group()
        keys.add_argument("--key-file", dest="key_file",
                          help=f"file holding the passphrase of an encrypted repository (or ${repo_keys.KEY_FILE_ENV})")
        keys.add_argument("--password-file", dest="password_file",
                          help=f"the same as --key-file, restic's name (the passphrase itself: ${repo_keys.PASSWORD_ENV};"
                               " on a terminal, without any of these, it is asked for)")
        p.add_argument("--json", action="store_true", help="JSON lines: progress events, result last")
        p.set_defaults(func=_guard(func))
        return p

    p = command("init", cmd_init, "create a repository")
    p.add_argument("--encrypt", action="store_true",
                   help="encrypt (implied by a passphrase given in any way; without one, it is asked for on a "
                        "terminal)")
    p = command("backup", cmd_backup, "back up a directory; prints the snapshot id last")
    p.add_argument("src")
    parent = p.add_mutually_exclusive_group()
    parent.add_argument("--parent", help="snapshot id (or prefix, or 'latest') whose unchanged files are not re-read "
                                         "(default: the newest snapshot of the same path from the same host)")
    parent.add_argument("--force", action="store_true", help="read every file again (no parent snapshot)")
    p.add_argument("--hostname", help="host name recorded in the snapshot")
    p.add_argument("--tag", action="append", help="tag recorded in the snapshot; repeatable")
    p.add_argument("--time", type=_moment, help="record this time as the snapshot's (ISO 8601; without an offset: "
                                                "this host's local time), as restic's --time")
    command("snapshots", cmd_snapshots, "list snapshots")
    p = command("restore", cmd_restore, "restore a snapshot into a directory")
    p.add_argument("snapshot")
    p.add_argument("target")
    p.add_argument("--mode", choices=["merge", "replace"], default="merge",
                   help="merge: overwrite what the snapshot has (default); replace: make an exact copy (with "
                        "--include: of the included paths only)")
    p.add_argument("--include", action="append", metavar="PATH",
                   help="restore only this path of the snapshot (and the directories leading to it); repeatable")
    p.add_argument("--exclude", action="append", metavar="PATTERN",
                   help="leave out entries whose name or /path matches this glob; repeatable")
    repo_browse.add_parsers(lambda name, func, help_text: command(name, _opened(func), help_text))
    p = command("forget", cmd_forget, "drop a snapshot, or those a --keep-* policy does not keep (gc frees the data)")
    repo_forget.add_arguments(p)
    _add_maintenance_parsers(command)
    command("stats", cmd_stats, "sizes and ratios")


def _add_maintenance_parsers(command) -> None:
    p = command("gc", cmd_gc, "remove unreferenced data and repack")
    p.add_argument("--grace", type=_seconds, default=None,
                   help="seconds: never touch packs (nor, with --name, orphan snapshots) younger than this "
                        "(default 3600, or [backup] gc_grace_seconds with --name)")
    p.add_argument("--wait", type=_seconds, default=None,
                   help="seconds to wait for running backups, restores and checks to end (default: none, "
                        "or [backup] gc_drain_seconds with --name)")
    p = command("check", cmd_check, "verify the repository")
    reading = p.add_mutually_exclusive_group()
    reading.add_argument("--read-data", action="store_true", help="also read and verify every pack")
    reading.add_argument("--read-data-subset", type=_subset, help="read a random fraction of packs, e.g. 0.1 or 10%%")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sharebackup")
    add_repo_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
