"""The backup repositories by name, from configuration alone (no engine).

``[backup] repositories = name=location, ...`` names them; ``default`` is always the local
repository at ``<state_dir>/repository``; ``backup_options.backup_type`` picks one by name.
The API process checks a backup_type with this module; workflows/backup_repository.py opens the
repository itself.
"""
from __future__ import annotations

from sharebackup.config import Config

DEFAULT = "default"


class UnknownRepository(ValueError):
    """A backup_type that names no configured repository."""


def repositories(conf: Config) -> dict[str, str]:
    """{name: store location}, ``default`` first."""
    named = {DEFAULT: str(conf.repository_path)}
    for item in conf.backup.repositories:
        name, sep, location = item.partition("=")
        if sep and name.strip() and location.strip() and name.strip() != DEFAULT:
            named[name.strip()] = location.strip()
    return named


def repository_name(conf: Config, backup_options: dict | None) -> str:
    name = (backup_options or {}).get("backup_type") or DEFAULT
    if not isinstance(name, str) or name not in repositories(conf):
        known = ", ".join(sorted(repositories(conf)))
        raise UnknownRepository(f"the backup type {name!r} names no configured repository (known: {known})")
    return name
