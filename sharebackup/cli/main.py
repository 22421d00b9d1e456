"""sharebackup: deduplicated, compressed, optionally encrypted backups of file shares, served
through OpenStack Manila's share-backup API (`openstack share backup ...`).

Start with `sharebackup serve`; `sharebackup repo --help` works on a backup repository directly.
"""
# Outside scripts call these commands: a flag, once released, keeps its name and meaning.
from __future__ import annotations

import argparse
import logging
import sys

from sharebackup.config import ConfigError, load_config
from sharebackup.config_sample import sample_config
from sharebackup.core.release import release


def _add_config_flags(parser: argparse.ArgumentParser, state_dir: bool = True) -> None:
    parser.add_argument("--config", help="INI configuration file")
    if state_dir:
        parser.add_argument("--state-dir", dest="state_dir", help="directory for all state (default ./var)")


def _conf(args, **extra):
    overrides = {"state_dir": getattr(args, "state_dir", None), **extra}
    return load_config(args.config, **overrides)


def cmd_serve(args) -> int:
    from sharebackup.cli.serve import serve
    conf = _conf(args, host=args.host, port=args.port, auth_strategy=args.auth, workers=args.workers)
    return serve(conf, grace=args.grace)


def cmd_worker(args) -> int:
    from sharebackup.cli.worker import run_worker
    return run_worker(_conf(args), threads=args.threads, grace=args.grace)


def cmd_db_upgrade(args) -> int:
    from sharebackup.db.database import Database
    from sharebackup.db.migrate import upgrade
    conf = _conf(args)
    db = Database(conf.database_url, pool_size=conf.database.pool_size)
    upgrade(db)
    print(f"database at {db.engine.url.render_as_string(hide_password=True)} is at the latest revision")
    return 0


def cmd_token_create(args) -> int:
    from sharebackup.api.auth.tokens import TokenFile
    conf = _conf(args)
    roles = args.role or ["member"]
    if "member" in roles and "reader" not in roles:
        roles.append("reader")  # a member can always read, as Keystone's implied roles give
    token = TokenFile(conf.token_path).create(args.project, args.user, roles)
    print(f"project={args.project} user={args.user} roles={','.join(sorted(set(roles)))}")
    print(token)
    return 0


def cmd_token_revoke(args) -> int:
    from sharebackup.api.auth.tokens import TokenFile
    if not TokenFile(_conf(args).token_path).revoke(args.token):
        print("sharebackup: no such token", file=sys.stderr)
        return 1
    print("token revoked: every request with it is refused from now on (console sessions end)")
    return 0


def cmd_config_sample(args) -> int:
    sys.stdout.write(sample_config())
    return 0


# The roles the shipped policy knows (Manila's secure-RBAC defaults); another name would grant nothing.
TOKEN_ROLES = ("member", "reader", "admin")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sharebackup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {release()}")
    parser.add_argument("--debug", action="store_true", help="verbose logging")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the API with an in-process worker pool")
    _add_config_flags(serve)
    serve.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="listen port (default 8786)")
    serve.add_argument("--auth", choices=["tokens", "noauth", "keystone"], default=None,
                       help="auth strategy (default tokens)")
    serve.add_argument("--workers", type=int, default=None, help="in-process worker threads")
    serve.add_argument("--grace", type=float, default=0.0,
                       help="seconds running jobs get to finish on SIGTERM or Ctrl-C before they are handed "
                            "back to the queue (default 0: at once)")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run a worker pool on its own (no API)")
    _add_config_flags(worker)
    worker.add_argument("--threads", type=int, default=None, help="worker threads (default: workers option)")
    worker.add_argument("--grace", type=float, default=20.0,
                        help="seconds running jobs get to finish on SIGTERM before they are handed back")
    worker.set_defaults(func=cmd_worker)

    db = sub.add_parser("db", help="database administration")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_upgrade = db_sub.add_parser("upgrade", help="run the Alembic migrations")
    _add_config_flags(db_upgrade)
    db_upgrade.set_defaults(func=cmd_db_upgrade)

    token = sub.add_parser("token", help="static tokens (auth_strategy = tokens)")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="add a token; it is printed on the last line")
    _add_config_flags(create)
    create.add_argument("--project", required=True, help="the project (tenant) id the token acts in")
    create.add_argument("--user", required=True, help="the user id the token stands for")
    create.add_argument("--role", action="append", choices=TOKEN_ROLES,
                        help="a role of the token; repeat for more. Without --role: member and reader "
                             "(member always implies reader, as Keystone's implied roles do)")
    create.set_defaults(func=cmd_token_create)
    revoke = token_sub.add_parser("revoke", help="remove a token: requests with it get 401 from now on")
    _add_config_flags(revoke)
    revoke.add_argument("token", help="the token itself, as create printed it")
    revoke.set_defaults(func=cmd_token_revoke)

    config = sub.add_parser("config", help="configuration helpers")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    sample = config_sub.add_parser("sample", help="print the sample configuration file")
    sample.set_defaults(func=cmd_config_sample)

    from sharebackup.cli.repo_commands import add_repo_parser
    add_repo_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.debug:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        code = args.func(args)
    except ConfigError as exc:
        print(f"sharebackup: configuration error: {exc}", file=sys.stderr)
        code = 2
    sys.exit(code)


if __name__ == "__main__":
    main()
