"""/v2/types/{id}/extra_specs[/{key}]: list, set, show, update, delete."""
from __future__ import annotations

from sharebackup.api.body import read_json
from sharebackup.faults import Fault
from sharebackup.api.schemas import share_types as schema
from sharebackup.policies import share_types as policy
from sharebackup.services import share_types as service


def list_extra_specs(req, resp, share_type_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    resp.media = {"extra_specs": service.get_specs(rt, ctx, share_type_id)}


def create_extra_specs(req, resp, share_type_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    body = read_json(req)
    if isinstance(body, dict) and isinstance(body.get("extra_specs"), dict):
        service.get_specs(rt, ctx, share_type_id)  # Manila checks the type before the specs
    specs = schema.create_specs_request(body)
    service.set_specs(rt, ctx, share_type_id, specs)
    resp.media = {"extra_specs": specs}


def show_extra_spec(req, resp, share_type_id, key, **params):
    rt, ctx = req.context.runtime, req.context.auth
    specs = service.get_specs(rt, ctx, share_type_id)
    if key not in specs:
        raise Fault(404)
    resp.media = {key: specs[key]}


def update_extra_spec(req, resp, share_type_id, key, **params):
    rt, ctx = req.context.runtime, req.context.auth
    body = read_json(req)
    if body:
        service.get_specs(rt, ctx, share_type_id)  # Manila checks the type before the body's shape
    specs = schema.update_spec_request(body, key)
    resp.media = service.set_specs(rt, ctx, share_type_id, specs)


def delete_extra_spec(req, resp, share_type_id, key, **params):
    rt, ctx = req.context.runtime, req.context.auth
    service.delete_spec(rt, ctx, share_type_id, key, req.context.version)
    resp.status = 202
