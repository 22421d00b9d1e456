"""GET /v2/limits: the caller's project limits and usage.

Manila checks no policy here. We ask for quota_set:show (project reader or admin), which
shows the same numbers, so that a caller without any role is refused on every route.
"""
from __future__ import annotations

from sharebackup.api.views import limits as view
from sharebackup.policies import quota_sets as policy
from sharebackup.services import quotas as service


def show_limits(req, resp):
    rt, ctx = req.context.runtime, req.context.auth
    resp.media = view.show(req, service.absolute_limits(rt, ctx))
