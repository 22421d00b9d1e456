"""`sharebackup repo ls | find | dump`: look into snapshots without restoring them (restic's
habits), on sharebackup/engine/browse.py."""
from __future__ import annotations

import fnmatch
import json
import stat
import sys

from sharebackup.cli.repo_output import human_bytes

# engine.browse and engine.archive (with tarfile) are imported by the commands that use them:
# every other command, a backup from cron among them, starts without them (about 10 ms cold)


def add_parsers(command) -> None:
    """``command(name, func, help)`` makes a subcommand with the common repository flags."""
    p = command("ls", cmd_ls, "list a directory of a snapshot (or, --recursive, everything below it)")
    p.add_argument("snapshot", help="snapshot id, prefix, or latest")
    p.add_argument("path", nargs="?", default="/", help="a path inside the snapshot (default /)")
    p.add_argument("--recursive", action="store_true", help="everything below the path")
    p = command("find", cmd_find, "find entries whose name matches a glob, across snapshots")
    p.add_argument("pattern", help="a glob matched against each name (and each /path), e.g. '*.conf'")
    p.add_argument("--snapshot", action="append", help="only this snapshot; repeatable (default: all)")
    p = command("dump", cmd_dump, "write a file of a snapshot to stdout (a directory: as a tar archive)")
    p.add_argument("snapshot", help="snapshot id, prefix, or latest")
    p.add_argument("path", help="a path inside the snapshot")


def cmd_ls(args, repo) -> int:
    from sharebackup.engine import browse
    from sharebackup.engine.browse import entry
    snap = repo.load_snapshot(repo.resolve_snapshot(args.snapshot))
    node = browse.node_at(repo, snap, args.path)
    base = "" if args.path.strip("/") == "" else "/" + "/".join(browse.split_path(args.path))
    if args.recursive:
        items = [(path, n) for path, n in browse.walk(repo, node, base)][1:]
    elif node["type"] == "dir":
        items = [(f"{base}/{n['name']}", n) for n in browse.children(repo, node)]
    else:
        items = [(base, node)]
    _print([entry(path, n) for path, n in items], args.json)
    return 0


def cmd_find(args, repo) -> int:
    from sharebackup.engine import browse
    from sharebackup.engine.browse import entry
    wanted = [repo.resolve_snapshot(s) for s in args.snapshot] if args.snapshot else None
    found = []
    for snap in repo.list_snapshots():
        if wanted is not None and snap["id"] not in wanted:
            continue
        for path, node in list(browse.walk(repo, browse.root_node(snap)))[1:]:
            if fnmatch.fnmatchcase(node["name"], args.pattern) or fnmatch.fnmatchcase(path, args.pattern):
                found.append({"snapshot": snap["id"], **entry(path, node)})
    if args.json:
        print(json.dumps({"event": "result", "found": found}))
    else:
        for item in found:
            _say(f"{item['snapshot'][:16]}  {_line(item)}")
        print(f"{len(found)} match(es)")
    return 0


def cmd_dump(args, repo) -> int:
    from sharebackup.engine import browse
    from sharebackup.engine.archive import write_tar
    snap = repo.load_snapshot(repo.resolve_snapshot(args.snapshot))
    node = browse.node_at(repo, snap, args.path)
    out = sys.stdout.buffer
    if node["type"] == "dir":
        write_tar(repo, node, out)
    else:
        for piece in browse.read_range(repo, node):
            out.write(piece)
    out.flush()
    return 0


def _print(items: list[dict], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"event": "result", "entries": items}))
        return
    for item in items:
        _say(_line(item))


def _say(line: str) -> None:
    """A line naming entries of a share: their bytes as they are (a name need not be UTF-8), as ls does."""
    sys.stdout.flush()
    sys.stdout.buffer.write(line.encode("utf-8", "surrogateescape") + b"\n")
    sys.stdout.buffer.flush()


def _line(item: dict) -> str:
    target = f" -> {item['target']}" if "target" in item else ""
    return (f"{_mode(item)} {human_bytes(item['size']) if item['type'] == 'file' else '':>10} "
            f"{item['mtime'] or '':<20} {item['path']}{target}")


def _mode(item: dict) -> str:
    kind = {"dir": stat.S_IFDIR, "symlink": stat.S_IFLNK, "file": stat.S_IFREG}.get(item["type"], stat.S_IFIFO)
    return stat.filemode(kind | item["mode"])


