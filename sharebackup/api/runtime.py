"""What a handler can reach besides the request: configuration, database, policy, jobs, driver.

One Runtime is built at start-up and handed to the app; nothing is global.
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
    policy: Policy
    # Set by the process that runs an in-process worker pool, so new jobs start at once.
    wake_workers: Callable[[], None] | None = None

    def notify_workers(self) -> None:
        if self.wake_workers is not None:
            self.wake_workers()


def build_runtime(conf: Config, db: Database | None = None) -> Runtime:
    db = db or Database(conf.database_url, pool_size=conf.database.pool_size)
    return Runtime(config=conf, db=db, policy=Policy(conf.policy_path))
