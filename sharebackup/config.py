"""The one typed configuration object.

Read from an INI file (the OpenStack operator's habit), then from ``SHAREBACKUP_*``
environment variables, then from command-line flags, and passed down explicitly:
nothing in the project reads configuration from a global.

Environment names: ``SHAREBACKUP_<OPTION>`` for ``[DEFAULT]`` options and
``SHAREBACKUP_<SECTION>__<OPTION>`` for the others (``SHAREBACKUP_DATABASE__CONNECTION``).
The sample file ``etc/sharebackup.conf.sample`` is generated from the field metadata
below by ``sharebackup config sample``; a test fails when the two disagree.
"""
from __future__ import annotations

import configparser
import dataclasses
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

ENV_PREFIX = "SHAREBACKUP_"
LOG = logging.getLogger(__name__)


def opt(default: Any, help: str, test_hook: bool = False) -> Any:
    """A configuration field: its default and the help text that goes into the sample.

    A test hook (a knob only tests turn) is left out of the sample, and a configuration that
    sets it is refused unless it also sets enable_test_hooks = true."""
    metadata = {"help": help, "test_hook": test_hook}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class DatabaseConfig:
    connection: str = opt("", "SQLAlchemy URL. Empty means SQLite (WAL) at <state_dir>/sharebackup.sqlite. "
                              "PostgreSQL: postgresql+psycopg://user@host/dbname")
    pool_size: int = opt(5, "Connection pool size (PostgreSQL only).")


@dataclass(frozen=True)
class QuotaConfig:
    shares: int = opt(50, "Default number of shares per project (-1 = unlimited).")
    gigabytes: int = opt(1000, "Default total share GiB per project.")
    snapshots: int = opt(50, "Default number of snapshots per project.")
    snapshot_gigabytes: int = opt(1000, "Default total snapshot GiB per project.")
    backups: int = opt(10, "Default number of share backups per project.")
    backup_gigabytes: int = opt(1000, "Default total share-backup GiB per project.")


@dataclass(frozen=True)
class BackupConfig:
    repositories: list = opt([], "Extra named backup repositories, as name=location items (comma separated); "
                                 "backup_options.backup_type picks one by name. The repository named default "
                                 "is always <state_dir>/repository.")
    key_file: str = opt("", "Key file for the backup repositories (its bytes are the passphrase). Empty: "
                            "repositories are created without encryption.")
    ignore_files: list = opt(["lost+found"], "Names skipped at any depth by backups and restores "
                                             "(Manila's backup_ignore_files).")
    job_lease_seconds: float = opt(30.0, "Seconds a worker holds a job between heartbeats; when it runs out "
                                         "(the worker died) another worker takes the job over.")
    job_stall_seconds: float = opt(900.0, "Seconds a backup or restore job may go without progress (no bytes "
                                          "read or written: a hung NFS mount, a stuck disk) before its worker "
                                          "stops renewing its lease, so that the job is taken over (and, after "
                                          "job_max_attempts, failed). 0: never.")
    job_max_attempts: int = opt(3, "How many times a backup, restore or delete job is started before it is "
                                   "given up (its workers kept dying): the backup or share then goes to its failed "
                                   "state with a user message.")
    max_operations: int = opt(0, "Most backup and restore jobs one worker process runs at once, whatever its "
                                 "number of threads (Cinder's backup_max_operations); other jobs (shares, "
                                 "snapshots, backup deletes) do not count. 0: no limit.")
    worker_availability_zone: str = opt("", "Run only the backup jobs of shares in this availability zone (the "
                                            "zone is taken from the share when the job is queued); jobs without "
                                            "a zone (share and snapshot jobs) are run anyway. Empty: any zone.")
    job_retention_seconds: float = opt(604800.0, "Seconds a finished (done or failed) job row is kept before idle "
                                                 "workers delete it; the backups keep their own states and user "
                                                 "messages. 0: keep them for ever.")
    gc_interval_seconds: float = opt(86400.0, "Seconds between automatic garbage collections of each backup "
                                              "repository (removing the data of deleted backups). Workers queue "
                                              "one gc job per repository when its last collection is this old; "
                                              "the first one comes one interval after a worker first sees the "
                                              "repository. 0: never automatically (use `sharebackup repo gc`).")
    gc_grace_seconds: float = opt(3600.0, "Garbage collection never deletes packs, nor forgets orphan snapshots, "
                                          "younger than this many seconds (a margin for backups still running).")
    gc_drain_seconds: float = opt(3600.0, "How long garbage collection waits for running backups, restores and "
                                          "checks of the repository to end (new ones are held back meanwhile) "
                                          "before it gives up and tries again later.")


@dataclass(frozen=True)
class PoliciesConfig:
    min_interval_seconds: float = opt(3600.0, "Shortest time between two runs of a backup policy (400 below it).")
    scheduler_tick_seconds: float = opt(30.0, "Seconds between two looks of a worker's policy scheduler at due "
                                              "runs and retention (at most min_interval_seconds / 5).")


@dataclass(frozen=True)
class ApiConfig:
    max_request_body_bytes: int = opt(114688, "Largest accepted request body in bytes; a larger one gets 413 "
                                               "before it is read.")


@dataclass(frozen=True)
class Config:
    state_dir: str = opt("./var", "Directory for everything the service writes: database, repository, "
                                  "shares created by the local driver, tokens.")
    host: str = opt("127.0.0.1", "Address the embedded server listens on.")
    port: int = opt(8786, "Port the embedded server listens on (Manila's port).")
    workers: int = opt(2, "Number of in-process worker threads that run share and backup jobs.")
    auth_strategy: str = opt("tokens", "tokens (static token file), noauth (Manila's user:project tokens) "
                                       "or keystone (keystonemiddleware auth_token).")
    token_file: str = opt("", "Static token file for auth_strategy=tokens. Empty means <state_dir>/tokens.json.")
    noauth_all_admin: bool = opt(False, "noauth only: make every caller admin, exactly as Manila's noauth does. "
                                        "When false only the user 'admin' is admin.")
    policy_file: str = opt("", "oslo.policy overrides (policy.yaml). Empty means <state_dir>/policy.yaml if it exists.")
    osapi_max_limit: int = opt(1000, "Largest page a list returns.")
    storage_availability_zone: str = opt("nova", "The one availability zone this service reports.")
    enabled_share_protocols: list = opt(["NFS", "CIFS"], "Share protocols accepted on create (comma separated).")
    manage_allowed_roots: list = opt([], "Directories under which POST /v2/shares/manage may adopt an "
                                         "existing directory (comma separated). Empty: managing is refused.")
    default_share_type: str = opt("default", "Name of the share type used when a share is created without one; "
                                             "created at first start if missing.")
    enable_test_hooks: bool = opt(False, "Allow the test hooks share_create_delay and backup_create_delay (seconds "
                                         "a new share, or a backup job, waits before it starts: tempest assumes "
                                         "a tiny share's backup does not end before its next request). Only "
                                         "tests need them; a configuration that sets one without this is refused.")
    share_create_delay: float = opt(0.0, "Seconds the local driver waits before a new share becomes "
                                         "available (for tests of the asynchronous path).", test_hook=True)
    backup_create_delay: float = opt(0.0, "Seconds a backup job waits before it starts reading the share (for "
                                          "tests of the asynchronous path: a backup of a tiny share otherwise "
                                          "ends before a client's next request, which tempest assumes it does "
                                          "not).", test_hook=True)
    message_ttl: int = opt(2592000, "Seconds a user message (/v2/messages) is kept (Manila's message_ttl).")
    log_format: str = opt("text", "Log line format: text (with [request id] or [job=... kind=... resource=...]) "
                                  "or json (one object per line with request_id, job_id, job_kind, resource_id, "
                                  "backup_id).")
    metrics_enabled: bool = opt(True, "Serve Prometheus metrics at GET /metrics on the API port, without auth. "
                                      "Only aggregate counters are exposed (labels: method, route template, status, "
                                      "job kind and state; no ids). Set false where the API port is public and "
                                      "firewalling /metrics is not possible.")
    worker_metrics_port: int = opt(0, "Port on which `sharebackup worker` (no API) serves Prometheus metrics "
                                      "at /metrics on the host address (0: none; needs metrics_enabled).")
    api: ApiConfig = field(default_factory=ApiConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    quota: QuotaConfig = field(default_factory=QuotaConfig)
    backup: BackupConfig = field(default_factory=BackupConfig)
    policies: PoliciesConfig = field(default_factory=PoliciesConfig)
    # Passed unchanged to keystonemiddleware's auth_token (it has its own option set).
    keystone_authtoken: dict = field(default_factory=dict)

    # -- derived paths: one place decides where things live under the state directory
    @property
    def state_path(self) -> Path:
        return Path(self.state_dir).resolve()

    @property
    def database_url(self) -> str:
        return self.database.connection or f"sqlite:///{self.state_path / 'sharebackup.sqlite'}"

    @property
    def token_path(self) -> Path:
        return Path(self.token_file) if self.token_file else self.state_path / "tokens.json"

    @property
    def policy_path(self) -> Path | None:
        if self.policy_file:
            return Path(self.policy_file)
        default = self.state_path / "policy.yaml"
        return default if default.exists() else None

    @property
    def shares_path(self) -> Path:
        return self.state_path / "shares"

    @property
    def snapshots_path(self) -> Path:
        return self.state_path / "snapshots"

    @property
    def repository_path(self) -> Path:
        return self.state_path / "repository"


SECTIONS = {"api": ApiConfig, "database": DatabaseConfig, "quota": QuotaConfig, "backup": BackupConfig,
            "policies": PoliciesConfig}
# Old names still read, with a warning: (section, option) -> (section, option).
DEPRECATED = {("DEFAULT", "max_request_body_size"): ("api", "max_request_body_bytes")}
PASSTHROUGH_SECTIONS = ("keystone_authtoken",)


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names the option."""


def _convert(value: str, to: Any, name: str) -> Any:
    try:
        if to is bool or to == "bool":
            lowered = value.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if to is int or to == "int":
            return int(value)
        if to is float or to == "float":
            return float(value)
        if to is list or to == "list":
            return [item.strip() for item in value.split(",") if item.strip()]
        return value
    except ValueError as exc:
        raise ConfigError(f"option {name}: cannot read {value!r} as {getattr(to, '__name__', to)}") from exc


def _fields(cls) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls) if "help" in f.metadata}


def _apply(cls, raw: Mapping[str, str], where: str) -> dict[str, Any]:
    known = _fields(cls)
    return {key: _convert(value, known[key].type, f"{where}.{key}") for key, value in raw.items()}


def _refuse_unknown(sections: Mapping[str, Mapping[str, str]], origin: Mapping[tuple[str, str], str]) -> None:
    """Stop at a misspelled section or option, naming every one: a silently ignored ``[bakup]
    key_file`` would create unencrypted repositories without a word. (oslo.config services
    refuse unknown options the same way when they are set on the command line.)"""
    problems = []
    for section, options in sections.items():
        if section in PASSTHROUGH_SECTIONS:
            continue  # keystonemiddleware checks its own options
        cls = Config if section == "DEFAULT" else SECTIONS.get(section)
        if cls is None:
            problems.append(f"unknown section [{section}] ({origin[section, '']})")
            continue
        known = _fields(cls)
        problems += [f"unknown option {option} in [{section}] ({origin[section, option]})"
                     for option in options if option not in known]
    if problems:
        raise ConfigError("; ".join(problems) + f"; known sections: DEFAULT, {', '.join(SECTIONS)}, "
                          f"{', '.join(PASSTHROUGH_SECTIONS)}")


def load_config(path: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None,
                **overrides: Any) -> Config:
    """Build the Config: defaults < INI file < environment < explicit overrides (command-line flags)."""
    environ = os.environ if environ is None else environ
    parser = configparser.ConfigParser(interpolation=None)
    if path:
        if not Path(path).is_file():
            raise ConfigError(f"configuration file {path} does not exist")
        parser.read(path)
    sections, origin = _read_file(parser, str(path or ""))
    _read_environment(environ, sections, origin)
    _rename_deprecated(sections, origin)
    _refuse_unknown(sections, origin)

    top = _apply(Config, sections.get("DEFAULT", {}), "DEFAULT")
    for name, cls in SECTIONS.items():
        top[name] = cls(**_apply(cls, sections.get(name, {}), name))
    for name in PASSTHROUGH_SECTIONS:
        top[name] = dict(sections.get(name, {}))
    top.update({k: v for k, v in overrides.items() if v is not None})
    conf = Config(**top)
    _validate(conf)
    return conf


def _rename_deprecated(sections: dict, origin: dict) -> None:
    """Move an option set under its old name to its new one, with a warning; the new name wins."""
    for (old_section, old), (new_section, new) in DEPRECATED.items():
        if old not in sections.get(old_section, {}):
            continue
        value = sections[old_section].pop(old)
        where = origin.pop((old_section, old))
        LOG.warning("configuration: [%s] %s (%s) is deprecated; use [%s] %s", old_section, old, where,
                    new_section, new)
        target = sections.setdefault(new_section, {})
        if new not in target:
            target[new] = value
            origin[new_section, new] = where
            origin.setdefault((new_section, ""), where)


def _read_file(parser: configparser.ConfigParser, path: str) -> tuple[dict, dict]:
    """The file's sections as {section: {option: value}}, and where each came from."""
    sections: dict[str, dict[str, str]] = {"DEFAULT": dict(parser.defaults())}
    origin = {("DEFAULT", option): path for option in parser.defaults()}
    for name in parser.sections():
        sections[name] = {k: v for k, v in parser.items(name) if k not in parser.defaults() or
                          parser.get(name, k) != parser.defaults().get(k)}
        origin[name, ""] = path
        origin.update({(name, option): path for option in sections[name]})
    return sections, origin


def _read_environment(environ: Mapping[str, str], sections: dict, origin: dict) -> None:
    """SHAREBACKUP_<OPTION> and SHAREBACKUP_<SECTION>__<OPTION> over the file's values.

    A ``SECTION__OPTION`` name is configuration by its form, so a typo in it is refused like
    one in the file. A one-part name that is no [DEFAULT] option is left alone: the prefix is
    shared with the command-line tools' own variables (SHAREBACKUP_KEY_FILE, SHAREBACKUP_CONFIG)
    and with the test harness's."""
    defaults = _fields(Config)
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        rest = key[len(ENV_PREFIX):].lower()
        if "__" in rest:
            section, _, option = rest.partition("__")
        elif (rest in defaults and rest not in SECTIONS) or ("DEFAULT", rest) in DEPRECATED:
            section, option = "DEFAULT", rest
        else:
            continue
        sections.setdefault(section, {})[option] = value
        origin.setdefault((section, ""), f"environment {key}")
        origin[section, option] = f"environment {key}"


def _validate(conf: Config) -> None:
    if conf.auth_strategy not in ("tokens", "noauth", "keystone"):
        raise ConfigError(f"auth_strategy must be tokens, noauth or keystone, not {conf.auth_strategy!r}")
    if conf.workers < 0:
        raise ConfigError("workers must be 0 or more")
    if conf.backup.job_max_attempts < 1:
        raise ConfigError("backup.job_max_attempts must be 1 or more")
    if conf.backup.max_operations < 0:
        raise ConfigError("backup.max_operations must be 0 (no limit) or more")
    if conf.policies.min_interval_seconds < 1 or conf.policies.scheduler_tick_seconds <= 0:
        raise ConfigError("policies: min_interval_seconds must be 1 or more, scheduler_tick_seconds above 0")
    for option in ("gc_interval_seconds", "gc_grace_seconds", "gc_drain_seconds", "job_retention_seconds"):
        if getattr(conf.backup, option) < 0:
            raise ConfigError(f"backup.{option} must be 0 or more")
    if conf.log_format not in ("text", "json"):
        raise ConfigError(f"log_format must be text or json, not {conf.log_format!r}")
    _validate_repositories(conf.backup.repositories)
    _validate_test_hooks(conf)


def _validate_test_hooks(conf: Config) -> None:
    if conf.enable_test_hooks:
        return
    for f in dataclasses.fields(Config):
        if f.metadata.get("test_hook") and getattr(conf, f.name) != f.default:
            raise ConfigError(f"{f.name} is a test hook (it delays every job of its kind); it is refused unless "
                              "enable_test_hooks = true")


# A repository name is stored as the backup's backup_type (32 characters, as Manila's column) and
# names its lease row and gc job; a typo must stop the start, not hide the repository.
REPOSITORY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")


def _validate_repositories(items: list) -> None:
    seen = set()
    for item in items:
        name, sep, location = str(item).partition("=")
        name, location = name.strip(), location.strip()
        if not sep or not location:
            raise ConfigError(f"backup.repositories: {item!r} is not name=location")
        if not REPOSITORY_NAME.fullmatch(name):
            raise ConfigError(f"backup.repositories: the name {name!r} must be 1-32 letters, digits, '_', '.' or '-'"
                              " (starting with a letter or digit)")
        if name == "default" or name in seen:
            raise ConfigError(f"backup.repositories: the name {name!r} is used twice (default is the local one)")
        seen.add(name)
