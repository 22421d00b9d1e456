"""What the API layer hands the share-backup service: requests already parsed and checked.

The API's schemas (api/schemas/share_backups.py) build these from bodies and query strings;
the service (services/share_backups.py) acts on them. They live on the service's side so the
service imports nothing of the HTTP layer.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# Sort keys whose stored text holds a number: sorted as numbers, not as text.
NUMERIC_SORT = ("progress", "restore_progress")


@dataclass
class CreateRequest:
    share_id: str
    name: str | None = None
    description: str | None = None
    backup_type: str | None = None
    backup_options: dict = field(default_factory=dict)


@dataclass
class ListQuery:
    filters: dict
    sort_key: str = "created_at"
    sort_dir: str = "desc"
    limit: int = 1000
    offset: int = 0
    marker: str | None = None
    all_tenants: bool = False
