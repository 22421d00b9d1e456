"""`openstack share backup file list|show|get` and `openstack share backup restore-files`: look
into a share backup, download one file from it, restore chosen paths (sharebackup's own API).

BACKUP is a backup's ID or its unique name, SHARE a share's ID or unique name (names are looked up
in Manila's API, as manilaclient does). PATH is a path inside the backup, from its root (/dir/file).
Errors of the service print as its message (exit 1).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import posixpath
import stat
import sys

from cliff import columns as cliff_columns
from osc_lib import exceptions
from osc_lib.cli import format_columns
from osc_lib.command import command

from sharebackup.osc import plugin

LIST_COLUMNS = ("name", "type", "size", "mode", "mtime", "target")
HEADINGS = {"mtime": "Modified"}
TYPE_BITS = {"file": stat.S_IFREG, "dir": stat.S_IFDIR, "symlink": stat.S_IFLNK}


class ModeColumn(cliff_columns.FormattableColumn):
    """A mode as `ls -l` shows it (drwxr-xr-x) in tables, as octal digits (0755) in -f json/yaml."""

    def __init__(self, mode, kind=None):
        super().__init__(mode)
        self._kind = kind

    def human_readable(self):
        if not isinstance(self._value, int):
            return "" if self._value is None else str(self._value)
        return stat.filemode(TYPE_BITS.get(self._kind, 0) | stat.S_IMODE(self._value))

    def machine_readable(self):
        return f"{stat.S_IMODE(self._value):04o}" if isinstance(self._value, int) else self._value


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"'{value}' is not a whole number, 1 or more")
    return number


def _client(cmd):
    return cmd.app.client_manager.sharebackup


def _manila_endpoint(cmd):
    return plugin.lazy_manila_endpoint(cmd.app.client_manager)


def _backup_id(cmd, name_or_id: str) -> str:
    return _client(cmd).find_backup(name_or_id, _manila_endpoint(cmd))["id"]


def _value(entry: dict, key: str):
    return ModeColumn(entry.get(key), entry.get("type")) if key == "mode" else entry.get(key)


def _heading(key: str) -> str:
    return HEADINGS.get(key, key.capitalize())


def list_rows(entries: list[dict]):
    """Lister's (headings, rows) for a directory's entries."""
    rows = (tuple(_value(entry, key) for key in LIST_COLUMNS) for entry in entries)
    return tuple(_heading(k) for k in LIST_COLUMNS), rows


def show_entry(entry: dict):
    """ShowOne's (columns, values) for one entry: every field, sorted."""
    keys = tuple(sorted(entry))
    return keys, tuple(_value(entry, key) for key in keys)


def restore_body(parsed_args, target_share_id: str | None) -> dict:
    """The `restore` object of POST .../restore for `restore-files`'s arguments."""
    body = {"paths": list(parsed_args.paths), "mode": "replace" if parsed_args.replace else "merge"}
    if target_share_id:
        body["target_share_id"] = target_share_id
    if parsed_args.target_path is not None:
        body["target_path"] = parsed_args.target_path
    return body


def default_output(path: str) -> str:
    """Where `file get` writes without --file: the file's own name, in the current directory."""
    name = posixpath.basename(path.rstrip("/"))
    if name in ("", ".", ".."):
        raise exceptions.CommandError(f"'{path}' names no file to save; give --file.")
    return name


@contextlib.contextmanager
def _open_new(target: str, force: bool):
    """`target` opened for writing (created, or truncated with `force`); removed if the download fails."""
    try:
        out = open(target, "wb" if force else "xb")
    except FileExistsError:
        raise exceptions.CommandError(f"'{target}' exists; give --force to overwrite it.") from None
    except OSError as exc:
        raise exceptions.CommandError(f"Cannot write '{target}': {exc.strerror or exc}") from None
    try:
        with out:
            yield out
    except BaseException:
        if os.path.isfile(target):
            os.unlink(target)
        raise


def _stdout_binary(cmd):
    stdout = cmd.app.stdout
    stdout.flush()
    return contextlib.nullcontext(getattr(stdout, "buffer", None) or sys.stdout.buffer)


class ListBackupFile(command.Lister):
    """List the entries of a directory in a share backup"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("backup", metavar="<backup>", help="Share backup (name or ID)")
        parser.add_argument("--path", metavar="<path>", default="/",
                            help="Directory in the backup to list (default: its root, /)")
        parser.add_argument("--limit", metavar="<N>", type=_count, help="At most N entries (one page)")
        return parser

    def take_action(self, parsed_args):
        backup_id = _backup_id(self, parsed_args.backup)
        return list_rows(_client(self).list_files(backup_id, parsed_args.path, limit=parsed_args.limit))


class ShowBackupFile(command.ShowOne):
    """Show one entry (file, directory, symlink) of a share backup"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("backup", metavar="<backup>", help="Share backup (name or ID)")
        parser.add_argument("path", metavar="<path>", help="Path in the backup (e.g. /dir/file)")
        return parser

    def take_action(self, parsed_args):
        return show_entry(_client(self).stat_file(_backup_id(self, parsed_args.backup), parsed_args.path))


class GetBackupFile(command.Command):
    """Download one file of a share backup"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("backup", metavar="<backup>", help="Share backup (name or ID)")
        parser.add_argument("path", metavar="<path>", help="File in the backup (e.g. /dir/file)")
        parser.add_argument("--file", metavar="<file>", dest="output",
                            help="Where to write it ('-' for standard output; default: the file's name in "
                                 "the current directory)")
        parser.add_argument("--force", action="store_true", default=False,
                            help="Overwrite the output file if it exists")
        return parser

    def take_action(self, parsed_args):
        target = parsed_args.output or default_output(parsed_args.path)
        if target != "-" and not parsed_args.force and os.path.lexists(target):
            raise exceptions.CommandError(f"'{target}' exists; give --force to overwrite it.")
        backup_id = _backup_id(self, parsed_args.backup)
        if target == "-":
            opener = lambda: _stdout_binary(self)  # noqa: E731
        else:
            opener = lambda: _open_new(target, parsed_args.force)  # noqa: E731
        _client(self).download_file(backup_id, parsed_args.path, opener)


class RestoreBackupFiles(command.ShowOne):
    """Restore chosen files and directories of a share backup into a share"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("backup", metavar="<backup>", help="Share backup (name or ID)")
        parser.add_argument("--path", metavar="<path>", dest="paths", action="append", required=True,
                            help="Path in the backup to restore (repeat for several; / for everything)")
        parser.add_argument("--target-share", metavar="<share>",
                            help="Share to restore into (name or ID; default: the backup's own share)")
        parser.add_argument("--target-path", metavar="<dir>",
                            help="Directory of the share to restore into (default: /, the paths' own places)")
        parser.add_argument("--replace", action="store_true", default=False,
                            help="Make each restored directory exactly as backed up, removing what the "
                                 "backup does not hold (default: merge, keeping other files)")
        return parser

    def take_action(self, parsed_args):
        client = _client(self)
        backup_id = _backup_id(self, parsed_args.backup)
        share_id = None
        if parsed_args.target_share:
            share_id = client.find_share_id(parsed_args.target_share, _manila_endpoint(self))
        restored = client.restore_files(backup_id, restore_body(parsed_args, share_id))
        keys = tuple(sorted(restored))
        return keys, tuple(format_columns.ListColumn(restored[k]) if k == "paths" else restored[k] for k in keys)
