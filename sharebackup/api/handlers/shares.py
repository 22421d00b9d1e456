"""/v2/shares: list, detail list, create (200), show, update, delete (202)."""
from __future__ import annotations

from sharebackup.api.body import resource_body
from sharebackup.api.schemas import shares as schema
from sharebackup.api.views import shares as view
from sharebackup.policies import shares as policy
from sharebackup.services import share_listing, shares as service


def _list(req, resp, detailed: bool):
    rt, ctx = req.context.runtime, req.context.auth
    query = schema.list_query(req, rt.policy.check(ctx, "context_is_admin"), rt.config.osapi_max_limit)
    shares, count = share_listing.list_shares(rt, ctx, query)
    resp.media = view.index(req, shares, detailed, query.limit_given, count)


def list_shares(req, resp, **params):
    _list(req, resp, detailed=False)


def list_shares_detail(req, resp, **params):
    _list(req, resp, detailed=True)


def create_share(req, resp, **params):
    rt, ctx = req.context.runtime, req.context.auth
    request = schema.create(resource_body(req, "share"), req.context.version)
    share = service.create(rt, ctx, request)
    resp.media = view.show(req, share)  # Manila answers 200, not 202


def show_share(req, resp, share_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    share = service.get(rt, ctx, share_id)
    resp.media = view.show(req, share)


def update_share(req, resp, share_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    values = schema.update(resource_body(req, "share"))
    share = service.update(rt, ctx, share_id, values)
    resp.media = view.show(req, share)


def delete_share(req, resp, share_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    service.delete(rt, ctx, share_id)
    resp.status = 202
