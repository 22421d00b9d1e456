"""`openstack share backup policy ...`: sharebackup's scheduled backups with retention.

POLICY is a policy's ID or its unique name. Errors of the service print as its message (exit 1).
"""
from __future__ import annotations

import argparse
import logging

from osc_lib import exceptions
from osc_lib.cli import format_columns
from osc_lib.command import command

from sharebackup.osc import plugin

LOG = logging.getLogger(__name__)

KEEP_COUNTS = ("keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly")
FORMATTERS = {"retention": format_columns.DictColumn, "share_ids": format_columns.ListColumn,
              "pruned_backup_ids": format_columns.ListColumn}
LIST_COLUMNS = ("id", "name", "enabled", "schedule", "timezone", "next_run_at")
RUN_COLUMNS = ("id", "share_id", "scheduled_at", "state", "backup_id", "pruned_backup_ids", "reason")


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"'{value}' is not a whole number, 0 or more")
    return number


def _heading(key: str) -> str:
    return " ".join("ID" if word in ("id", "ids") else word.capitalize() for word in key.split("_"))


def _client(cmd):
    return cmd.app.client_manager.sharebackup


def _show(policy: dict):
    """ShowOne's (columns, values): every field, sorted, retention a dict and share_ids a list."""
    keys = tuple(sorted(policy))
    return keys, tuple(FORMATTERS[k](policy[k]) if k in FORMATTERS else policy[k] for k in keys)


def _rows(items: list[dict], keys: tuple[str, ...]):
    """Lister's (headings, rows)."""
    rows = (tuple(FORMATTERS[k](item.get(k)) if k in FORMATTERS else item.get(k) for k in keys)
            for item in items)
    return tuple(_heading(k) for k in keys), rows


def _add_settings(parser, *, creating: bool):
    """The options create and set share: schedule, timezone, type, description, enabled, retention."""
    parser.add_argument("--schedule", metavar="<cron-or-interval>", required=creating,
                        help='When to back up: a five-field cron expression such as "0 2 * * *", or an '
                             'ISO 8601 interval such as PT6H' + (" (required)" if creating else ""))
    parser.add_argument("--timezone", metavar="<zone>",
                        help="The IANA time zone the schedule is read in (e.g. Europe/Berlin; default UTC)")
    parser.add_argument("--backup-type", metavar="<backup-type>",
                        help="The backup type of the backups the policy takes (e.g. default)")
    parser.add_argument("--description", metavar="<description>", help="A description of the policy")
    enabled = parser.add_mutually_exclusive_group()
    enabled.add_argument("--enable", dest="enabled", action="store_const", const=True,
                         help="Take backups on schedule" + (" (default)" if creating else ""))
    enabled.add_argument("--disable", dest="enabled", action="store_const", const=False,
                         help="Keep the policy but take no backups until enabled")
    units = {"hourly": "hours", "daily": "days", "weekly": "weeks", "monthly": "months", "yearly": "years"}
    for key in KEEP_COUNTS:
        period = key.removeprefix("keep_")
        what = "N newest backups" if period == "last" else f"newest backup of each of the last N {units[period]}"
        parser.add_argument(f"--{key.replace('_', '-')}", dest=key, metavar="<N>", type=_count,
                            help=f"Retention: keep the {what}")
    parser.add_argument("--keep-within", metavar="<duration>",
                        help="Retention: keep every backup younger than this, before the newest one: restic's "
                             "30d, 1y6m (m is months), 12h, or ISO 8601's P30D, P2W, PT12H ('' clears)")
    return parser


def _retention(parsed_args) -> dict:
    keys = KEEP_COUNTS + ("keep_within",)
    return {key: getattr(parsed_args, key) for key in keys if getattr(parsed_args, key) is not None}


def create_body(parsed_args) -> dict:
    """The `backup_policy` object of POST /backup-policies for `create`'s arguments."""
    body = {"name": parsed_args.name, "schedule": parsed_args.schedule,
            "enabled": parsed_args.enabled is not False, "retention": _retention(parsed_args)}
    for key in ("description", "timezone", "backup_type"):
        if getattr(parsed_args, key) is not None:
            body[key] = getattr(parsed_args, key)
    return body


def update_body(parsed_args) -> dict:
    """The partial `backup_policy` object of PUT: only the options given (retention partial too)."""
    body = {key: getattr(parsed_args, key)
            for key in ("name", "description", "schedule", "timezone", "backup_type", "enabled")
            if getattr(parsed_args, key) is not None}
    retention = _retention(parsed_args)
    if retention:
        body["retention"] = retention
    return body


class CreateBackupPolicy(command.ShowOne):
    """Create a backup policy: a schedule and how many backups to keep"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="<name>", help="Name of the new policy")
        return _add_settings(parser, creating=True)

    def take_action(self, parsed_args):
        return _show(_client(self).create_policy(create_body(parsed_args)))


class ListBackupPolicy(command.Lister):
    """List backup policies"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--all-projects", action="store_true", default=False,
                            help="Policies of all projects (admin only)")
        parser.add_argument("--limit", metavar="<N>", type=_count, help="At most N policies (one page)")
        parser.add_argument("--marker", metavar="<policy-id>", help="Start after this policy")
        return parser

    def take_action(self, parsed_args):
        policies = _client(self).list_policies(all_projects=parsed_args.all_projects, limit=parsed_args.limit,
                                               marker=parsed_args.marker)
        keys = LIST_COLUMNS + (("project_id",) if parsed_args.all_projects else ())
        return _rows(policies, keys)


class ShowBackupPolicy(command.ShowOne):
    """Show a backup policy"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("policy", metavar="<policy>", help="Policy to show (name or ID)")
        return parser

    def take_action(self, parsed_args):
        return _show(_client(self).find_policy(parsed_args.policy))


class SetBackupPolicy(command.Command):
    """Change a backup policy (only the options given)"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("policy", metavar="<policy>", help="Policy to change (name or ID)")
        parser.add_argument("--name", metavar="<name>", help="New name")
        return _add_settings(parser, creating=False)

    def take_action(self, parsed_args):
        changes = update_body(parsed_args)
        if not changes:
            raise exceptions.CommandError("Nothing to change: give one or more options (see --help).")
        client = _client(self)
        client.update_policy(client.find_policy(parsed_args.policy)["id"], changes)


class DeleteBackupPolicy(command.Command):
    """Delete backup policies (their backups stay)"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("policies", metavar="<policy>", nargs="+", help="Policies to delete (names or IDs)")
        return parser

    def take_action(self, parsed_args):
        client = _client(self)
        failed = 0
        for name_or_id in parsed_args.policies:
            try:
                client.delete_policy(client.find_policy(name_or_id)["id"])
            except exceptions.CommandError as exc:
                failed += 1
                LOG.error("Failed to delete backup policy '%s': %s", name_or_id, exc)
        if failed:
            raise exceptions.CommandError(
                f"{failed} of {len(parsed_args.policies)} backup policies failed to delete.")


class _PolicyShareCommand:
    @staticmethod
    def _arguments(parser, verb: str):
        parser.add_argument("policy", metavar="<policy>", help="Policy (name or ID)")
        parser.add_argument("share", metavar="<share>", help=f"Share to {verb} (name or ID)")
        return parser


class AddShareBackupPolicy(_PolicyShareCommand, command.ShowOne):
    """Back up a share on a policy's schedule"""

    def get_parser(self, prog_name):
        return self._arguments(super().get_parser(prog_name), "add")

    def take_action(self, parsed_args):
        client = _client(self)
        share_id = client.find_share_id(parsed_args.share, plugin.lazy_manila_endpoint(self.app.client_manager))
        return _show(client.add_share(client.find_policy(parsed_args.policy)["id"], share_id))


class RemoveShareBackupPolicy(_PolicyShareCommand, command.Command):
    """Stop backing up a share on a policy's schedule (its backups stay)"""

    def get_parser(self, prog_name):
        return self._arguments(super().get_parser(prog_name), "remove")

    def take_action(self, parsed_args):
        client = _client(self)
        share_id = client.find_share_id(parsed_args.share, plugin.lazy_manila_endpoint(self.app.client_manager))
        client.remove_share(client.find_policy(parsed_args.policy)["id"], share_id)


class ListBackupPolicyRuns(command.Lister):
    """List a backup policy's runs, newest first"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("policy", metavar="<policy>", help="Policy (name or ID)")
        parser.add_argument("--limit", metavar="<N>", type=_count, help="At most N runs (one page)")
        parser.add_argument("--marker", metavar="<run-id>", help="Start after this run")
        return parser

    def take_action(self, parsed_args):
        client = _client(self)
        runs = client.list_runs(client.find_policy(parsed_args.policy)["id"], limit=parsed_args.limit,
                                marker=parsed_args.marker)
        return _rows(runs, RUN_COLUMNS)

