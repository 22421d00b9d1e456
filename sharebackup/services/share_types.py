"""Share types: the rules. (Extended with the share-types API.)"""
from __future__ import annotations

from sqlalchemy import select

from sharebackup.db.models import ShareType, ShareTypeExtraSpec


def ensure_default(rt) -> None:
    name = rt.config.default_share_type
    with rt.db.transaction() as session:
        exists = session.scalars(select(ShareType).where(ShareType.name == name,
                                                         ShareType.deleted.is_(False))).first()
        if exists is None:
            share_type = ShareType(name=name, description="Default share type", is_public=True)
            share_type.extra_specs = [
                ShareTypeExtraSpec(key="driver_handles_share_servers", value="False"),
                ShareTypeExtraSpec(key="snapshot_support", value="True"),
            ]
            session.add(share_type)
