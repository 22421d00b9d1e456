"""The whole API in one table: path -> {method: handler}.

Every path is also reachable with a ``{project_id}`` segment after ``/v2`` and with a
``.json`` suffix (see middleware.UrlMiddleware). A method missing here gets 405 + Allow.
"""
from __future__ import annotations

from sharebackup.api.handlers import (availability_zones, healthcheck, limits, messages, metrics,
                                      quota_class_sets, quota_sets,
                                      share_actions, share_backups, share_export_locations, share_manage,
                                      share_metadata, share_replicas, share_type_access,
                                      share_type_extra_specs, share_types, shares, snapshots,
                                      versions)

_quota_set_routes = {
    "/{project_id}": {"GET": quota_sets.show_quota_set, "PUT": quota_sets.update_quota_set,
                      "DELETE": quota_sets.delete_quota_set},
    "/{project_id}/defaults": {"GET": quota_sets.show_quota_set_defaults},
    "/{project_id}/detail": {"GET": quota_sets.show_quota_set_detail},
}

ROUTES: dict[str, dict] = {
    # version discovery (no auth)
    "/": {"GET": versions.list_versions},
    "/v2": {"GET": versions.show_v2},
    # operators (no auth): oslo.middleware-style health probe, Prometheus metrics (metrics_enabled)
    "/healthcheck": {"GET": healthcheck.healthcheck, "HEAD": healthcheck.healthcheck_head},
    "/metrics": {"GET": metrics.show_metrics},

    # shares
    "/v2/shares": {"GET": shares.list_shares, "POST": shares.create_share},
    "/v2/shares/detail": {"GET": shares.list_shares_detail},
    "/v2/shares/manage": {"POST": share_manage.manage_share},
    "/v2/shares/{share_id}": {"GET": shares.show_share, "PUT": shares.update_share,
                              "DELETE": shares.delete_share},
    "/v2/shares/{share_id}/action": {"POST": share_actions.share_action},
    "/v2/shares/{share_id}/export_locations": {"GET": share_export_locations.list_export_locations},
    "/v2/shares/{share_id}/export_locations/{export_location_id}": {
        "GET": share_export_locations.show_export_location},
    "/v2/shares/{share_id}/metadata": {"GET": share_metadata.list_share_metadata,
                                       "PUT": share_metadata.set_share_metadata,
                                       "POST": share_metadata.update_share_metadata},
    "/v2/shares/{share_id}/metadata/{key}": {"GET": share_metadata.show_share_metadata_item,
                                             "PUT": share_metadata.update_share_metadata_item,
                                             "DELETE": share_metadata.delete_share_metadata_item},

    # share types
    "/v2/types": {"GET": share_types.list_share_types, "POST": share_types.create_share_type},
    "/v2/types/default": {"GET": share_types.show_default_share_type},
    "/v2/types/{share_type_id}": {"GET": share_types.show_share_type, "PUT": share_types.update_share_type,
                                  "DELETE": share_types.delete_share_type},
    "/v2/types/{share_type_id}/action": {"POST": share_type_access.share_type_action},
    "/v2/types/{share_type_id}/share_type_access": {"GET": share_type_access.list_share_type_access},
    "/v2/types/{share_type_id}/extra_specs": {"GET": share_type_extra_specs.list_extra_specs,
                                              "POST": share_type_extra_specs.create_extra_specs},
    "/v2/types/{share_type_id}/extra_specs/{key}": {"GET": share_type_extra_specs.show_extra_spec,
                                                    "PUT": share_type_extra_specs.update_extra_spec,
                                                    "DELETE": share_type_extra_specs.delete_extra_spec},

    # snapshots
    "/v2/snapshots": {"GET": snapshots.list_snapshots, "POST": snapshots.create_snapshot},
    "/v2/snapshots/detail": {"GET": snapshots.list_snapshots_detail},
    "/v2/snapshots/{snapshot_id}": {"GET": snapshots.show_snapshot, "PUT": snapshots.update_snapshot,
                                    "DELETE": snapshots.delete_snapshot},
    "/v2/snapshots/{snapshot_id}/action": {"POST": snapshots.snapshot_action},
    "/v2/snapshots/{snapshot_id}/export-locations": {"GET": snapshots.list_snapshot_export_locations},
    "/v2/snapshots/{snapshot_id}/export-locations/{export_location_id}": {
        "GET": snapshots.show_snapshot_export_location},

    # share backups (2.80+; the experimental header is accepted and echoed, not required)
    "/v2/share-backups": {"GET": share_backups.list_share_backups, "POST": share_backups.create_share_backup},
    "/v2/share-backups/detail": {"GET": share_backups.list_share_backups_detail},
    "/v2/share-backups/{backup_id}": {"GET": share_backups.show_share_backup,
                                      "PUT": share_backups.update_share_backup,
                                      "DELETE": share_backups.delete_share_backup},
    "/v2/share-backups/{backup_id}/action": {"POST": share_backups.share_backup_action},

    # user messages (2.37+)
    "/v2/messages": {"GET": messages.list_messages},
    "/v2/messages/{message_id}": {"GET": messages.show_message, "DELETE": messages.delete_message},

    # quotas and limits (quota-sets since 2.7; os-quota-sets before)
    **{f"/v2/quota-sets{suffix}": methods for suffix, methods in _quota_set_routes.items()},
    **{f"/v2/os-quota-sets{suffix}": methods for suffix, methods in _quota_set_routes.items()},
    "/v2/quota-class-sets/{class_name}": {"GET": quota_class_sets.show_quota_class_set,
                                          "PUT": quota_class_sets.update_quota_class_set},
    "/v2/os-quota-class-sets/{class_name}": {"GET": quota_class_sets.show_quota_class_set,
                                             "PUT": quota_class_sets.update_quota_class_set},
    "/v2/limits": {"GET": limits.show_limits},

    # availability zones and replicas (read-only here)
    "/v2/availability-zones": {"GET": availability_zones.list_availability_zones},
    "/v2/os-availability-zone": {"GET": availability_zones.list_availability_zones},
    "/v2/share-replicas": {"GET": share_replicas.list_share_replicas},
    "/v2/share-replicas/detail": {"GET": share_replicas.list_share_replicas},
}


def collections() -> set[str]:
    """First path segments after /v2 that name a collection (never a project id)."""
    return {path.split("/")[2] for path in ROUTES if path.startswith("/v2/")}
