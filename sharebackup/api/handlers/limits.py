"""GET /v2/limits: the caller's project limits and usage (no policy in Manila: any authenticated caller)."""
from __future__ import annotations

from sharebackup.api.views import limits as view
from sharebackup.services import quotas as service


def show_limits(req, resp):
    rt, ctx = req.context.runtime, req.context.auth
    resp.media = view.show(req, service.absolute_limits(rt, ctx))
