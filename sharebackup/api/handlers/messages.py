"""/v2/messages (2.37+): list, show and delete user messages."""
from __future__ import annotations

from sharebackup.api.schemas import messages as schema
from sharebackup.api.views import messages as view
from sharebackup.policies import messages as policy
from sharebackup.services import messages as service


def list_messages(req, resp, **params):
    rt, ctx = req.context.runtime, req.context.auth
    query = schema.list_query(dict(req.params), req.context.version, rt.config.osapi_max_limit)
    rows, _total = service.list_messages(rt, ctx, query)
    resp.media = view.index(req, rows, query)


def show_message(req, resp, message_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    resp.media = view.show(req, service.get(rt, ctx, message_id))


def delete_message(req, resp, message_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    service.delete(rt, ctx, message_id)
    resp.status = 204
