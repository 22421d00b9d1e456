"""/v2/quota-sets/{project_id} (2.7+) and /v2/os-quota-sets/{project_id} (2.0-2.6): quotas of a project.

Both URL families reach these functions; each answers 404 outside its own versions, as
Manila's two controllers do. ``/detail`` exists on quota-sets from 2.25 only.
"""
from __future__ import annotations

from sharebackup.faults import Fault
from sharebackup.api.schemas import quotas as schema
from sharebackup.api.views import quotas as view
from sharebackup.policies import quota_sets as policy
from sharebackup.services import quotas as service

_NO_SHARE_TYPE_QUOTAS = "Quotas per share type are not supported by this service."


def _query(req) -> str:
    user_id, share_type = schema.user_and_share_type(req)
    if share_type:
        raise Fault(400, _NO_SHARE_TYPE_QUOTAS)
    return user_id


def show_quota_set(req, resp, project_id):
    rt, ctx = req.context.runtime, req.context.auth
    project_id = schema.project_id(project_id)
    user_id = _query(req)
    values = service.show(rt, ctx, project_id, user_id)
    resp.media = view.quota_set(req, values, project_id)


def show_quota_set_detail(req, resp, project_id):
    rt, ctx = req.context.runtime, req.context.auth
    project_id = schema.project_id(project_id)
    user_id = _query(req)
    values = service.show(rt, ctx, project_id, user_id, detail=True)
    resp.media = view.quota_set(req, values, project_id)


def show_quota_set_defaults(req, resp, project_id):
    rt, ctx = req.context.runtime, req.context.auth
    project_id = schema.project_id(project_id)
    resp.media = view.quota_set(req, service.defaults(rt, ctx), project_id)


def update_quota_set(req, resp, project_id):
    rt, ctx = req.context.runtime, req.context.auth
    project_id = schema.project_id(project_id)
    user_id = _query(req)
    values, force = schema.quota_set_update(req)
    result = service.update(rt, ctx, project_id, user_id, values, force)
    resp.media = view.quota_set(req, result)


def delete_quota_set(req, resp, project_id):
    rt, ctx = req.context.runtime, req.context.auth
    project_id = schema.project_id(project_id)
    user_id = _query(req)
    service.delete_quotas(rt, ctx, project_id, user_id)
    resp.status = 202
