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

# One line per version we honour. The comment names the change that matters to the resources
# served here; the view and schema modules gate fields on these numbers.
VERSIONS = [
    "2.0",   # Manila v2 API base: shares, share types, snapshots, quotas, limits
    "2.1",   # no change to the resources served here
    "2.2",   # no change to the resources served here
    "2.3",   # no change to the resources served here
    "2.4",   # no change to the resources served here
    "2.5",   # migration fields in share view: task_state
    "2.6",   # no change to the resources served here
    "2.7",   # actions renamed: os-reset_status -> reset_status, os-extend -> extend, ...; share type
             # view: share_type_access:is_public (os-share-type-access:is_public before)
    "2.8",   # no change to the resources served here
    "2.9",   # export_locations moved to their own resource
    "2.10",  # no change to the resources served here
    "2.11",  # no change to the resources served here
    "2.12",  # snapshot view: provider_location (admins)
    "2.13",  # no change to the resources served here
    "2.14",  # export location 'preferred'
    "2.15",  # no change to the resources served here
    "2.16",  # user_id in share view
    "2.17",  # snapshot view: user_id, project_id
    "2.18",  # no change to the resources served here
    "2.19",  # no change to the resources served here
    "2.20",  # no change to the resources served here
    "2.21",  # no change to the resources served here
    "2.22",  # no change to the resources served here
    "2.23",  # no change to the resources served here
    "2.24",  # share types: snapshot_support no longer defaulted on create nor undeletable
    "2.25",  # no change to the resources served here
    "2.26",  # no change to the resources served here
    "2.27",  # no change to the resources served here
    "2.28",  # no change to the resources served here
    "2.29",  # no change to the resources served here
    "2.30",  # no change to the resources served here
    "2.31",  # no change to the resources served here
    "2.32",  # no change to the resources served here
    "2.33",  # no change to the resources served here
    "2.34",  # no change to the resources served here
    "2.35",  # no change to the resources served here
    "2.36",  # inexact name~/description~ filters on shares
    "2.37",  # user messages API
    "2.38",  # no change to the resources served here
    "2.39",  # no change to the resources served here
    "2.40",  # no change to the resources served here
    "2.41",  # share type description
    "2.42",  # no change to the resources served here
    "2.43",  # share type list: extra_specs filter
    "2.44",  # no change to the resources served here
    "2.45",  # no change to the resources served here
    "2.46",  # share type view: is_default
    "2.47",  # no change to the resources served here
    "2.48",  # no change to the resources served here
    "2.49",  # no change to the resources served here
    "2.50",  # share type update (PUT /types/{id})
    "2.51",  # no change to the resources served here
    "2.52",  # no change to the resources served here
    "2.53",  # no change to the resources served here
    "2.54",  # no change to the resources served here
    "2.55",  # no change to the resources served here
    "2.56",  # no change to the resources served here
    "2.57",  # no change to the resources served here
    "2.58",  # no change to the resources served here
    "2.59",  # no change to the resources served here
    "2.60",  # project_id optional in URLs
    "2.61",  # no change to the resources served here
    "2.62",  # no change to the resources served here
    "2.63",  # no change to the resources served here
    "2.64",  # no change to the resources served here
    "2.65",  # no change to the resources served here
    "2.66",  # no change to the resources served here
    "2.67",  # no change to the resources served here
    "2.68",  # no change to the resources served here
    "2.69",  # recycle bin: is_soft_deleted, scheduled_to_be_deleted_at; soft delete and restore
    "2.70",  # no change to the resources served here
    "2.71",  # no change to the resources served here
    "2.72",  # no change to the resources served here
    "2.73",  # snapshot metadata (create, view, list filter)
    "2.74",  # no change to the resources served here
    "2.75",  # no change to the resources served here
    "2.76",  # no change to the resources served here
    "2.77",  # no change to the resources served here
    "2.78",  # no change to the resources served here
    "2.79",  # snapshot list: with_count
    "2.80",  # share backups (experimental); backups/backup_gigabytes quotas; source_backup_id
    "2.81",  # no change to the resources served here
    "2.82",  # no change to the resources served here
    "2.83",  # no change to the resources served here
    "2.84",  # share mount_point_name
    "2.85",  # backup_type in the share-backup view
    "2.86",  # no change to the resources served here
    "2.87",  # export location metadata
    "2.88",  # no change to the resources served here
    "2.89",  # no change to the resources served here
    "2.90",  # encryption_key_ref on shares; encryption_keys quota
    "2.91",  # share backup restore into a target share
]

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


class VersionedHandler:
    """Several implementations of one handler, each for a window of versions."""

    def __init__(self, name: str):
        self.name = name
        self.windows: list[tuple[APIVersion, APIVersion, object]] = []

    def add(self, minimum: str, maximum: str | None, func) -> None:
        low = APIVersion.parse(minimum)
        high = APIVersion.parse(maximum) if maximum else MAX_VERSION
        for other_low, other_high, _ in self.windows:
            if low <= other_high and other_low <= high:
                raise ValueError(f"{self.name}: version windows {low}-{high} and {other_low}-{other_high} overlap")
        self.windows.append((low, high, func))

    def __call__(self, req, resp, **params):
        version = req.context.version
        for low, high, func in self.windows:
            if low <= version <= high:
                return func(req, resp, **params)
        raise Fault(404)


_REGISTRY: dict[str, VersionedHandler] = {}


def version_handler(minimum: str, maximum: str | None = None):
    """Decorator: register this function for [minimum, maximum]; a request outside every
    registered window of the same name gets Manila's 404."""

    def wrap(func):
        key = f"{func.__module__}.{func.__qualname__}"
        handler = _REGISTRY.setdefault(key, VersionedHandler(key))
        handler.add(minimum, maximum, func)
        functools.update_wrapper(handler, func)
        return handler

    return wrap
