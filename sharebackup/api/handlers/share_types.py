"""/v2/types: list, show, default, create, update (2.50), delete."""
from __future__ import annotations

from sharebackup.api.body import read_json
from sharebackup.api.schemas import share_types as schema
from sharebackup.api.views import share_types as view
from sharebackup.policies import share_types as policy
from sharebackup.services import share_types as service


def list_share_types(req, resp, **params):
    rt, ctx = req.context.runtime, req.context.auth
    is_public = schema.parse_is_public(req.get_param("is_public")) if ctx.is_admin else True
    spec_filter = schema.extra_specs_filter(req.get_param("extra_specs"), req.context.version)
    resp.media = view.index(req, service.list_types(rt, ctx, is_public, spec_filter))


def show_default_share_type(req, resp, **params):
    rt, ctx = req.context.runtime, req.context.auth
    resp.media = view.show(req, service.get_default(rt, ctx))


def show_share_type(req, resp, share_type_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    resp.media = view.show(req, service.get(rt, ctx, share_type_id))


def create_share_type(req, resp, **params):
    rt, ctx = req.context.runtime, req.context.auth
    request = schema.create_request(read_json(req), req.context.version)
    resp.media = view.show(req, service.create(rt, ctx, request))


def update_share_type(req, resp, share_type_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    request = schema.update_request(read_json(req))
    resp.media = view.show(req, service.update(rt, ctx, share_type_id, request))


def delete_share_type(req, resp, share_type_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    service.delete(rt, ctx, share_type_id)
    resp.status = 202
