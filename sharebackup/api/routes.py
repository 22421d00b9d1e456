"""The whole API in one table: path -> {method: handler}.

Every path is also reachable with a ``{project_id}`` segment after ``/v2`` and with a
``.json`` suffix (see middleware.UrlMiddleware). A method missing here gets 405 + Allow.
"""
from __future__ import annotations

from sharebackup.api.handlers import availability_zones, share_replicas, versions

ROUTES: dict[str, dict] = {
    "/": {"GET": versions.list_versions},
    "/v2": {"GET": versions.show_v2},
    "/v2/availability-zones": {"GET": availability_zones.list_availability_zones},
    "/v2/os-availability-zone": {"GET": availability_zones.list_availability_zones},
    "/v2/share-replicas": {"GET": share_replicas.list_share_replicas},
    "/v2/share-replicas/detail": {"GET": share_replicas.list_share_replicas},
}


def collections() -> set[str]:
    """First path segments after /v2 that name a collection (never a project id)."""
    return {path.split("/")[2] for path in ROUTES if path.startswith("/v2/")}
