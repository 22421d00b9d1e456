"""Share type views, field by field as manila/api/views/types.py builds them per microversion."""
from __future__ import annotations

from sharebackup.api.schemas import share_types as schema


def _brief(req, share_type) -> dict:
    ctx = req.context.auth
    version = req.context.version
    specs = share_type.specs
    required = schema.required_specs_or_empty(specs)
    if not ctx.is_admin:
        specs = {k: v for k, v in specs.items() if k in schema.TENANT_VISIBLE}
        required = {k: v for k, v in required.items() if k in schema.TENANT_VISIBLE}
        if version.matches("2.24"):
            # A user sees how shares of the type behave: unset optional specs at their defaults.
            specs = {**schema.INFERRED_OPTIONAL, **specs}
    view = {"id": share_type.id, "name": share_type.name, "extra_specs": specs,
            "required_extra_specs": required}
    if version.matches("2.7"):
        view["share_type_access:is_public"] = share_type.is_public
    else:
        view["os-share-type-access:is_public"] = share_type.is_public
    if version.matches("2.41"):
        view["description"] = share_type.description
    if version.matches("2.46"):
        view["is_default"] = share_type.name == req.context.runtime.config.default_share_type
    return view


def show(req, share_type) -> dict:
    view = _brief(req, share_type)
    return {"share_type": view, "volume_type": view}


def index(req, share_types) -> dict:
    views = [_brief(req, share_type) for share_type in share_types]
    return {"share_types": views, "volume_types": views}


def access_list(share_type) -> dict:
    return {"share_type_access": [{"share_type_id": share_type.id, "project_id": p.project_id}
                                  for p in share_type.projects]}
