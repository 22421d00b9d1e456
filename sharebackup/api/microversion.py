"""Microversions as data.

Manila's header is ``X-OpenStack-Manila-API-Version``; ``OpenStack-API-Version:
shared-file-system X`` is accepted too (manilaclient sends both). microversion-parse's
bundled middleware reads neither, so this module does the small part we need.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from sharebackup.faults import Fault

LEGACY_HEADER = "X-OpenStack-Manila-API-Version"
STANDARD_HEADER = "OpenStack-API-Version"
SERVICE_TYPE = "shared-file-system"
EXPERIMENTAL_HEADER = "X-OpenStack-Manila-API-Experimental"

# The changelog: every version we honour and what it changes in the resources served here.
# The route table's windows (routes.py), the actions' windows and the views and schemas gate on
# these numbers; tests/unit/test_microversions.py checks that every version the code gates on
# says what it changes.
NO_CHANGE = "no change to the resources served here"
CHANGES: dict[str, str] = {
    "2.0": 'Manila v2 API base: shares, share types, snapshots, quotas (os-quota-sets), limits',
    "2.1": NO_CHANGE,
    "2.2": 'share view: snapshot_support',
    "2.3": NO_CHANGE,
    "2.4": NO_CHANGE,
    "2.5": 'share view: task_state (migration fields)',
    "2.6": "share view: share_type is the type's id, share_type_name added; the last version of the os- names (os-reset_status, os-force_delete, os-extend, os-shrink actions; os-quota-sets, os-quota-class-sets)",
    "2.7": 'the os- names renamed (reset_status, force_delete, extend, shrink; quota-sets, quota-class-sets); share manage and the unmanage action; share type view: share_type_access:is_public',
    "2.8": 'share create: is_public',
    "2.9": 'export locations become their own resource; the share view drops export_location(s)',
    "2.10": 'share view: access_rules_status',
    "2.11": 'share view: replication_type, has_replicas',
    "2.12": 'snapshot view: provider_location (admins)',
    "2.13": NO_CHANGE,
    "2.14": 'export location view: preferred',
    "2.15": NO_CHANGE,
    "2.16": 'share view: user_id',
    "2.17": 'snapshot view: user_id, project_id',
    "2.18": NO_CHANGE,
    "2.19": NO_CHANGE,
    "2.20": NO_CHANGE,
    "2.21": NO_CHANGE,
    "2.22": 'share action reset_task_state',
    "2.23": NO_CHANGE,
    "2.24": 'share view: create_share_from_snapshot_support; share types: snapshot_support no longer defaulted on create nor undeletable',
    "2.25": 'quota-sets/{project_id}/detail',
    "2.26": NO_CHANGE,
    "2.27": 'share action revert; share view: revert_to_snapshot_support',
    "2.28": NO_CHANGE,
    "2.29": NO_CHANGE,
    "2.30": NO_CHANGE,
    "2.31": 'share view: share_group_id, source_share_group_snapshot_member_id',
    "2.32": 'share view: mount_snapshot_support; snapshot export locations',
    "2.33": NO_CHANGE,
    "2.34": NO_CHANGE,
    "2.35": 'share list filters: export_location_id, export_location_path',
    "2.36": 'inexact name~ / description~ filters on shares and snapshots',
    "2.37": 'user messages API',
    "2.38": NO_CHANGE,
    "2.39": 'quotas per share type (a share_type query: refused here, not supported)',
    "2.40": 'share group quotas and limits',
    "2.41": 'share type description',
    "2.42": 'share list: with_count',
    "2.43": 'share type list: extra_specs filter',
    "2.44": NO_CHANGE,
    "2.45": NO_CHANGE,
    "2.46": 'share type view: is_default',
    "2.47": NO_CHANGE,
    "2.48": NO_CHANGE,
    "2.49": NO_CHANGE,
    "2.50": 'share type update (PUT /types/{id})',
    "2.51": NO_CHANGE,
    "2.52": 'message list: created_since, created_before',
    "2.53": 'share replica quotas and limits',
    "2.54": 'share view: progress (below 2.54, creating_from_snapshot shows as creating)',
    "2.55": NO_CHANGE,
    "2.56": NO_CHANGE,
    "2.57": NO_CHANGE,
    "2.58": NO_CHANGE,
    "2.59": NO_CHANGE,
    "2.60": 'project_id optional in URLs',
    "2.61": NO_CHANGE,
    "2.62": "quotas: per_share_gigabytes",
    "2.63": NO_CHANGE,
    "2.64": 'share action extend: force',
    "2.65": 'share create: scheduler_hints must be an object',
    "2.66": NO_CHANGE,
    "2.67": NO_CHANGE,
    "2.68": NO_CHANGE,
    "2.69": 'recycle bin: is_soft_deleted, scheduled_to_be_deleted_at; soft_delete and restore actions',
    "2.70": NO_CHANGE,
    "2.71": NO_CHANGE,
    "2.72": NO_CHANGE,
    "2.73": 'snapshot metadata (create, view, list filter)',
    "2.74": NO_CHANGE,
    "2.75": NO_CHANGE,
    "2.76": NO_CHANGE,
    "2.77": NO_CHANGE,
    "2.78": NO_CHANGE,
    "2.79": 'snapshot list: with_count',
    "2.80": 'share backups (experimental); backups/backup_gigabytes quotas; source_backup_id',
    "2.81": NO_CHANGE,
    "2.82": NO_CHANGE,
    "2.83": NO_CHANGE,
    "2.84": 'share mount_point_name',
    "2.85": 'backup_type in the share-backup view',
    "2.86": NO_CHANGE,
    "2.87": 'export location metadata',
    "2.88": NO_CHANGE,
    "2.89": NO_CHANGE,
    "2.90": 'encryption_key_ref on shares; encryption_keys quota',
    "2.91": 'share backup restore into a target share',
}
VERSIONS = list(CHANGES)

_FORMAT = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")
# No version part will ever be this long: a longer one is out of range by its length alone,
# and is refused before int(), which raises ValueError beyond 4,300 digits (a 500 before).
_MAX_DIGITS = 6
# Headers are echoed in the messages, as Manila does; a longer one is cut there.
_MAX_SHOWN = 64


@functools.total_ordering
@dataclass(frozen=True)
class APIVersion:
    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> "APIVersion":
        """400 when ``text`` is not MajorNum.MinorNum; 406 when a number is absurdly long."""
        match = _FORMAT.match(text.strip())
        if not match:
            raise Fault(400, f"API Version String {_shown(text)} is of invalid format. "
                             "Must be of format MajorNum.MinorNum.")
        if max(len(part) for part in match.groups()) > _MAX_DIGITS:
            raise unsupported(text)
        return cls(int(match.group(1)), int(match.group(2)))

    def __lt__(self, other: "APIVersion") -> bool:
        return (self.major, self.minor) < (other.major, other.minor)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def matches(self, minimum: str | None = None, maximum: str | None = None) -> bool:
        if minimum and self < APIVersion.parse(minimum):
            return False
        if maximum and APIVersion.parse(maximum) < self:
            return False
        return True


MIN_VERSION = APIVersion.parse(VERSIONS[0])
MAX_VERSION = APIVersion.parse(VERSIONS[-1])


def requested_version(headers: dict[str, str]) -> APIVersion:
    """The version a request asks for. Absent means the minimum; bad format 400; out of range 406."""
    text = headers.get(LEGACY_HEADER.upper())
    if text is None:
        standard = headers.get(STANDARD_HEADER.upper())
        if standard:
            for part in standard.split(","):
                service, _, value = part.strip().partition(" ")
                if service.lower() == SERVICE_TYPE and value.strip():
                    text = value.strip()
    if text is None:
        return MIN_VERSION
    version = APIVersion.parse(text)
    if not (MIN_VERSION <= version <= MAX_VERSION):
        raise unsupported(text)
    return version


def unsupported(text: str) -> Fault:
    """Manila's 406 for a well-formed version outside [MIN_VERSION, MAX_VERSION]."""
    return Fault(406, f"Version {_shown(text)} is not supported by the API. "
                      f"Minimum is {MIN_VERSION} and maximum is {MAX_VERSION}.")


def _shown(text: str) -> str:
    return text if len(text) <= _MAX_SHOWN else f"{text[:_MAX_SHOWN]}..."


def experimental_requested(headers: dict[str, str]) -> bool:
    return headers.get(EXPERIMENTAL_HEADER.upper(), "").strip().lower() in ("1", "true", "yes", "on", "y", "t")
