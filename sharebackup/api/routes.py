"""The whole API in one table: path -> {method: Operation(s)} with each operation's handler,
policy rule and microversion window (operations.py runs them all the same way).

Every path is also reachable with a ``{project_id}`` segment after ``/v2`` and with a
``.json`` suffix (see middleware.UrlMiddleware). A method missing here gets 405 + Allow.
Where one path answers in two version windows (os-quota-sets before 2.7, quota-sets from it),
the method lists one operation per window; outside every window the answer is 404.
"""
from __future__ import annotations

from sharebackup.api.handlers import (availability_zones, backup_files, backup_policies, extension_backups,
                                      extension_versions, healthcheck, limits, messages, metrics,
                                      quota_class_sets, quota_sets,
                                      share_actions, share_backups, share_export_locations, share_manage,
                                      share_metadata, share_replicas, share_type_access,
                                      share_type_extra_specs, share_types, shares, snapshots,
                                      versions)
from sharebackup.api.operations import op
from sharebackup.policies import (availability_zones as az_rules, backup_policies as policy_rules,
                                  extension_backups as extension_backup_rules,
                                  messages as message_rules,
                                  quota_sets as quota_rules, share_backups as backup_rules,
                                  share_export_locations as export_rules, share_replicas as replica_rules,
                                  share_snapshots as snapshot_rules, share_types as type_rules,
                                  shares as share_rules)

BACKUPS = "2.80"  # share backups (experimental in Manila; the header is echoed, not required)


def _quota_sets(since: str, until: str | None, detail_since: str | None) -> dict:
    """One URL family of quota sets: os-quota-sets serves 2.0-2.6 (no /detail: Manila's old
    controller has none, so the path is unknown, 404), quota-sets 2.7 and later (/detail from 2.25)."""
    routes = {
        "/{project_id}": {"GET": op(quota_sets.show_quota_set, quota_rules.SHOW, since, until),
                          "PUT": op(quota_sets.update_quota_set, quota_rules.UPDATE, since, until),
                          "DELETE": op(quota_sets.delete_quota_set, quota_rules.DELETE, since, until)},
        "/{project_id}/defaults": {"GET": op(quota_sets.show_quota_set_defaults, quota_rules.SHOW, since, until)},
    }
    if detail_since:
        routes["/{project_id}/detail"] = {"GET": op(quota_sets.show_quota_set_detail, quota_rules.SHOW, detail_since,
                                                    until)}
    return routes


def _quota_class_sets(since: str, until: str | None) -> dict:
    return {"GET": op(quota_class_sets.show_quota_class_set, quota_rules.CLASS_SHOW, since, until),
            "PUT": op(quota_class_sets.update_quota_class_set, quota_rules.CLASS_UPDATE, since, until)}


ROUTES: dict[str, dict] = {
    # version discovery, health and metrics: no auth, no policy
    "/": {"GET": op(versions.list_versions, None)},
    "/v2": {"GET": op(versions.show_v2, None)},
    "/healthcheck": {"GET": op(healthcheck.healthcheck, None), "HEAD": op(healthcheck.healthcheck_head, None)},
    "/metrics": {"GET": op(metrics.show_metrics, None)},

    # shares
    "/v2/shares": {"GET": op(shares.list_shares, share_rules.GET_ALL),
                   "POST": op(shares.create_share, share_rules.CREATE)},
    "/v2/shares/detail": {"GET": op(shares.list_shares_detail, share_rules.GET_ALL)},
    "/v2/shares/manage": {"POST": op(share_manage.manage_share, share_rules.MANAGE, "2.7")},
    "/v2/shares/{share_id}": {"GET": op(shares.show_share, share_rules.GET),
                              "PUT": op(shares.update_share, share_rules.UPDATE),
                              "DELETE": op(shares.delete_share, share_rules.DELETE)},
    "/v2/shares/{share_id}/action": {"POST": op(share_actions.share_action, None)},
    "/v2/shares/{share_id}/export_locations": {
        "GET": op(share_export_locations.list_export_locations, export_rules.INDEX, "2.9")},
    "/v2/shares/{share_id}/export_locations/{export_location_id}": {
        "GET": op(share_export_locations.show_export_location, export_rules.SHOW, "2.9")},
    "/v2/shares/{share_id}/metadata": {
        "GET": op(share_metadata.list_share_metadata, share_rules.GET_METADATA),
        "PUT": op(share_metadata.set_share_metadata, share_rules.UPDATE_METADATA),
        "POST": op(share_metadata.update_share_metadata, share_rules.UPDATE_METADATA)},
    "/v2/shares/{share_id}/metadata/{key}": {
        "GET": op(share_metadata.show_share_metadata_item, share_rules.GET_METADATA),
        "PUT": op(share_metadata.update_share_metadata_item, share_rules.UPDATE_METADATA),
        "DELETE": op(share_metadata.delete_share_metadata_item, share_rules.DELETE_METADATA)},

    # share types
    "/v2/types": {"GET": op(share_types.list_share_types, type_rules.INDEX),
                  "POST": op(share_types.create_share_type, type_rules.CREATE)},
    "/v2/types/default": {"GET": op(share_types.show_default_share_type, type_rules.DEFAULT)},
    "/v2/types/{share_type_id}": {"GET": op(share_types.show_share_type, type_rules.SHOW),
                                  "PUT": op(share_types.update_share_type, type_rules.UPDATE, "2.50"),
                                  "DELETE": op(share_types.delete_share_type, type_rules.DELETE)},
    "/v2/types/{share_type_id}/action": {"POST": op(share_type_access.share_type_action, None)},
    "/v2/types/{share_type_id}/share_type_access": {
        "GET": op(share_type_access.list_share_type_access, type_rules.LIST_PROJECT_ACCESS)},
    "/v2/types/{share_type_id}/extra_specs": {
        "GET": op(share_type_extra_specs.list_extra_specs, type_rules.SPEC_INDEX),
        "POST": op(share_type_extra_specs.create_extra_specs, type_rules.SPEC_CREATE)},
    "/v2/types/{share_type_id}/extra_specs/{key}": {
        "GET": op(share_type_extra_specs.show_extra_spec, type_rules.SPEC_SHOW),
        "PUT": op(share_type_extra_specs.update_extra_spec, type_rules.SPEC_UPDATE),
        "DELETE": op(share_type_extra_specs.delete_extra_spec, type_rules.SPEC_DELETE)},

    # snapshots
    "/v2/snapshots": {"GET": op(snapshots.list_snapshots, snapshot_rules.GET_ALL),
                      "POST": op(snapshots.create_snapshot, snapshot_rules.CREATE)},
    "/v2/snapshots/detail": {"GET": op(snapshots.list_snapshots_detail, snapshot_rules.GET_ALL)},
    "/v2/snapshots/{snapshot_id}": {"GET": op(snapshots.show_snapshot, snapshot_rules.GET),
                                    "PUT": op(snapshots.update_snapshot, snapshot_rules.UPDATE),
                                    "DELETE": op(snapshots.delete_snapshot, snapshot_rules.DELETE)},
    "/v2/snapshots/{snapshot_id}/action": {"POST": op(snapshots.snapshot_action, None)},
    "/v2/snapshots/{snapshot_id}/export-locations": {
        "GET": op(snapshots.list_snapshot_export_locations, snapshot_rules.EXPORT_LOCATION_INDEX, "2.32")},
    "/v2/snapshots/{snapshot_id}/export-locations/{export_location_id}": {
        "GET": op(snapshots.show_snapshot_export_location, snapshot_rules.EXPORT_LOCATION_SHOW, "2.32")},

    # share backups
    "/v2/share-backups": {"GET": op(share_backups.list_share_backups, backup_rules.GET_ALL, BACKUPS),
                          "POST": op(share_backups.create_share_backup, backup_rules.CREATE, BACKUPS)},
    "/v2/share-backups/detail": {"GET": op(share_backups.list_share_backups_detail, backup_rules.GET_ALL, BACKUPS)},
    "/v2/share-backups/{backup_id}": {
        "GET": op(share_backups.show_share_backup, backup_rules.GET, BACKUPS),
        "PUT": op(share_backups.update_share_backup, backup_rules.UPDATE, BACKUPS),
        "DELETE": op(share_backups.delete_share_backup, backup_rules.DELETE, BACKUPS)},
    "/v2/share-backups/{backup_id}/action": {"POST": op(share_backups.share_backup_action, None, BACKUPS)},

    # user messages
    "/v2/messages": {"GET": op(messages.list_messages, message_rules.GET_ALL, "2.37")},
    "/v2/messages/{message_id}": {"GET": op(messages.show_message, message_rules.GET, "2.37"),
                                  "DELETE": op(messages.delete_message, message_rules.DELETE, "2.37")},

    # quotas and limits (quota-sets since 2.7; os-quota-sets before)
    **{f"/v2/quota-sets{suffix}": methods for suffix, methods in _quota_sets("2.7", None, "2.25").items()},
    **{f"/v2/os-quota-sets{suffix}": methods for suffix, methods in _quota_sets("2.0", "2.6", None).items()},
    "/v2/quota-class-sets/{class_name}": _quota_class_sets("2.7", None),
    "/v2/os-quota-class-sets/{class_name}": _quota_class_sets("2.0", "2.6"),
    # Manila checks no policy on limits; we ask for quota_set:show (project reader or admin)
    "/v2/limits": {"GET": op(limits.show_limits, quota_rules.SHOW)},

    # availability zones and replicas (read-only here)
    "/v2/availability-zones": {"GET": op(availability_zones.list_availability_zones, az_rules.INDEX)},
    "/v2/os-availability-zone": {"GET": op(availability_zones.list_availability_zones, az_rules.INDEX)},
    "/v2/share-replicas": {"GET": op(share_replicas.list_share_replicas, replica_rules.GET_ALL)},
    "/v2/share-replicas/detail": {"GET": op(share_replicas.list_share_replicas, replica_rules.GET_ALL)},

    # our own API (docs/api-ext.md): the same auth, no microversions, policies sharebackup:*
    "/sharebackup": {"GET": op(extension_versions.list_extension_versions, None)},
    "/sharebackup/v1": {"GET": op(extension_versions.list_extension_versions, None)},
    "/sharebackup/v1/backup-policies": {
        "GET": op(backup_policies.list_backup_policies, policy_rules.GET_ALL),
        "POST": op(backup_policies.create_backup_policy, policy_rules.CREATE)},
    "/sharebackup/v1/backup-policies/detail": {
        "GET": op(backup_policies.list_backup_policies_detail, policy_rules.GET_ALL)},
    "/sharebackup/v1/backup-policies/{policy_id}": {
        "GET": op(backup_policies.show_backup_policy, policy_rules.GET),
        "PUT": op(backup_policies.update_backup_policy, policy_rules.UPDATE),
        "DELETE": op(backup_policies.delete_backup_policy, policy_rules.DELETE)},
    "/sharebackup/v1/backup-policies/{policy_id}/shares": {
        "POST": op(backup_policies.attach_share, policy_rules.ATTACH)},
    "/sharebackup/v1/backup-policies/{policy_id}/shares/{share_id}": {
        "DELETE": op(backup_policies.detach_share, policy_rules.DETACH)},
    "/sharebackup/v1/backup-policies/{policy_id}/runs": {"GET": op(backup_policies.list_runs, policy_rules.RUNS)},
    "/sharebackup/v1/share-backups/{backup_id}": {
        "GET": op(extension_backups.show_extension_backup, extension_backup_rules.GET)},
    "/sharebackup/v1/share-backups/{backup_id}/files": {
        "GET": op(backup_files.list_backup_files, extension_backup_rules.BROWSE)},
    "/sharebackup/v1/share-backups/{backup_id}/files/stat": {
        "GET": op(backup_files.stat_backup_file, extension_backup_rules.BROWSE)},
    "/sharebackup/v1/share-backups/{backup_id}/content": {
        "GET": op(backup_files.download_backup_file, extension_backup_rules.DOWNLOAD)},
    "/sharebackup/v1/share-backups/{backup_id}/archive": {
        "GET": op(backup_files.download_backup_archive, extension_backup_rules.DOWNLOAD)},
    "/sharebackup/v1/share-backups/{backup_id}/restore": {
        "POST": op(backup_files.restore_backup_paths, extension_backup_rules.RESTORE_PARTIAL)},
}


def collections() -> set[str]:
    """First path segments after /v2 that name a collection (never a project id)."""
    return {path.split("/")[2] for path in ROUTES if path.startswith("/v2/")}
