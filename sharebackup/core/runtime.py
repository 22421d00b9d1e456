"""What services, jobs and handlers reach besides their arguments: configuration, database,
policy, and the wake-up of in-process workers.

One Runtime is built per process (``build_runtime``) and handed down; nothing is global. A tool
that needs no policy (the ``repo gc`` command) builds one with ``Runtime.for_tools``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sharebackup.config import Config
from sharebackup.db.database import Database
from sharebackup.policies.enforcer import Policy


@dataclass
class Runtime:
    config: Config
    db: Database
    policy: Policy | None
    # Set by the process that runs an in-process worker pool, so new jobs start at once.
    wake_workers: Callable[[], None] | None = None

    def notify_workers(self) -> None:
        if self.wake_workers is not None:
            self.wake_workers()

    @classmethod
    def for_tools(cls, conf: Config, db: Database | None = None) -> "Runtime":
        """A runtime for a command-line tool or a test: no policy file is read."""
        return cls(config=conf, db=db or _database(conf), policy=None)


def build_runtime(conf: Config, db: Database | None = None) -> Runtime:
    return Runtime(config=conf, db=db or _database(conf), policy=Policy(conf.policy_path))


def _database(conf: Config) -> Database:
    return Database(conf.database_url, pool_size=conf.database.pool_size)
