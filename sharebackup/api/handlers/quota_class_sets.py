"""/v2/quota-class-sets/{class_name} (2.7+) and /v2/os-quota-class-sets/{class_name} (2.0-2.6).

Class ``default`` changes the defaults of every project (services/quotas.py); other classes
are stored and shown but nothing uses them, as in Manila.
"""
from __future__ import annotations

from sharebackup.faults import Fault
from sharebackup.api.schemas import quotas as schema
from sharebackup.api.views import quotas as view
from sharebackup.policies import quota_sets as policy
from sharebackup.services import quotas as service


def show_quota_class_set(req, resp, class_name):
    rt, ctx = req.context.runtime, req.context.auth
    if not ctx.is_admin:
        # Manila's authorize_quota_class_context: a user context names no quota class.
        raise Fault(403, "Access was denied to this resource.")
    class_name = schema.class_name(class_name)
    resp.media = view.quota_class_set(req, service.show_class(rt, ctx, class_name), class_name)


def update_quota_class_set(req, resp, class_name):
    rt, ctx = req.context.runtime, req.context.auth
    class_name = schema.class_name(class_name)
    values = schema.quota_class_set_update(req)
    resp.media = view.quota_class_set(req, service.update_class(rt, ctx, class_name, values))
