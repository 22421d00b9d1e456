"""The availability-zone list. The id is stable across restarts: derived from the name."""
from __future__ import annotations

import uuid

# A fixed namespace so the zone's id never changes for the same name.
_NAMESPACE = uuid.UUID("6c1f5a44-2bd1-4f5e-9b7e-3e0f8e1f2a10")
_EPOCH = "2015-08-27T11:33:21.000000"


def index(zone_name: str) -> dict:
    return {"availability_zones": [{
        "id": str(uuid.uuid5(_NAMESPACE, zone_name)),
        "name": zone_name,
        "created_at": _EPOCH,
        "updated_at": None,
    }]}
