"""The repository side of backup jobs: which engine repository a backup goes to, opened ready to use.

Repositories are named in configuration (``[backup] repositories = name=location, ...``);
``default`` is always the local repository at ``<state_dir>/repository``, created with
``Repository.init`` the first time a job needs it. ``backup_options.backup_type`` picks a
repository by name. The optional ``[backup] key_file`` encrypts repositories created here
and opens encrypted ones.
"""
from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager

from sharebackup import engine
from sharebackup.config import Config
# which repository a backup goes to is configuration only (repository_names, which the API
# process imports without the engine); re-exported here for the jobs
from sharebackup.services.repository_names import (DEFAULT, UnknownRepository, repositories,  # noqa: F401
                                               repository_name)

_init_lock = threading.Lock()


def _key(conf: Config) -> bytes | None:
    return engine.read_key_file(conf.backup.key_file) if conf.backup.key_file else None


def _is_local(location: str) -> bool:
    return location != "memory:" and "://" not in location


@contextmanager
def _init_guard(location: str):
    """Only one creator at a time: threads of this process, and (local stores) other processes.

    Two concurrent inits of an encrypted repository would each add a key for their own master key."""
    with _init_lock:
        if not _is_local(location):
            yield
            return
        lock_path = os.path.abspath(location.removeprefix("local:").removeprefix("file://")).rstrip("/")
        os.makedirs(os.path.dirname(lock_path) or "/", exist_ok=True)
        fd = os.open(lock_path + ".init-lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def location(conf: Config, name: str) -> str:
    """The store location of the configured repository ``name``."""
    named = repositories(conf)
    if name not in named:
        known = ", ".join(sorted(named))
        raise UnknownRepository(f"the repository {name!r} is not configured (known: {known})")
    return named[name]


def open_existing_repository(conf: Config, name: str, load_index: bool = True) -> engine.Repository | None:
    """Open repository ``name``; None when its store holds no repository yet (nothing to maintain)."""
    store = engine.open_store(location(conf, name))
    if not store.exists("config"):
        return None
    repo = engine.Repository.open(store, key=_key(conf), load_index=load_index)
    repo.lock_lease = lock_lease_seconds(conf)
    return repo


def open_repository(conf: Config, name: str) -> engine.Repository:
    """Open repository ``name``, creating it first if its store has none yet."""
    named = repositories(conf)
    if name not in named:
        raise UnknownRepository(f"the repository {name!r} is not configured any more")
    location = named[name]
    key = _key(conf)
    store = engine.open_store(location)
    if not store.exists("config"):
        with _init_guard(location):
            if not store.exists("config"):
                try:
                    engine.Repository.init(store, key=key)
                except engine.RepositoryError:
                    if not store.exists("config"):
                        raise
                    # another host created it between our look and our write (no init lock
                    # spans hosts on S3); its config names its master key, so just open it
    repo = engine.Repository.open(store, key=key)
    repo.lock_lease = lock_lease_seconds(conf)
    return repo


def lock_lease_seconds(conf: Config) -> float:
    """Repository locks live three job leases (renewed every lease): a killed worker's lock
    then blocks deletes and gc about as long as its job lease blocks the job, not 300 s."""
    return max(3.0 * float(conf.backup.job_lease_seconds), 10.0)


LOCK_RETRY_SECONDS = 60.0  # the longest a job waits for a locked or gc-held repository before it looks again


def gc_retry_seconds(conf: Config) -> float:
    """How long a job waits for a garbage collection: a quarter of its lease (so a dead collector's
    lease is noticed soon after it runs out), at most LOCK_RETRY_SECONDS."""
    return min(LOCK_RETRY_SECONDS, max(1.0, lock_lease_seconds(conf) / 4))
