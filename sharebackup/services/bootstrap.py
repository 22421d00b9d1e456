"""What a fresh install needs before the first request: the schema and the default share type."""
from __future__ import annotations

from sharebackup.core.runtime import Runtime
from sharebackup.db.migrate import upgrade


def prepare_database(rt: Runtime) -> None:
    upgrade(rt.db)
    ensure_default_share_type(rt)


def ensure_default_share_type(rt: Runtime) -> None:
    """Create the configured default share type if it does not exist (so that
    `openstack share create NFS 1` works at once)."""
    from sharebackup.services import share_types
    share_types.ensure_default(rt)
