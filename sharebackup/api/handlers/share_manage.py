"""POST /v2/shares/manage (admin): adopt an existing directory as a share."""
from __future__ import annotations

from sharebackup.api.body import require_body
from sharebackup.faults import Fault
from sharebackup.api.schemas import shares as schema
from sharebackup.api.views import shares as view
from sharebackup.policies import shares as policy
from sharebackup.services import share_manage as service


def manage_share(req, resp, **params):
    rt, ctx = req.context.runtime, req.context.auth
    body = require_body(req)
    if not isinstance(body, dict) or not isinstance(body.get("share"), dict):
        raise Fault(422, "Share entity not found in request body")
    request = schema.manage(body["share"], req.context.version)
    share = service.manage(rt, ctx, request)
    resp.media = view.show(req, share)
