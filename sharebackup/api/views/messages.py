"""Message views, the fields manila/api/views/messages.py shows. ``user_message`` is the stored
text ("<action>: <what went wrong>"), not a lookup table, so it can name the actual cause."""
from __future__ import annotations

from urllib.parse import urlencode

from sharebackup.api.views.shares import links, timestamp

COLLECTION = "messages"


def detail(req, message) -> dict:
    return {
        "id": message.id,
        "project_id": message.project_id,
        "action_id": message.action_id,
        "detail_id": message.detail_id,
        "message_level": message.message_level,
        "created_at": timestamp(message.created_at),
        "expires_at": timestamp(message.expires_at),
        "request_id": message.request_id,
        "links": links(req, message.id, COLLECTION),
        "resource_type": message.resource_type,
        "resource_id": message.resource_id,
        "user_message": message.user_message,
    }


def show(req, message) -> dict:
    return {"message": detail(req, message)}


def index(req, messages, query: dict) -> dict:
    body = {"messages": [detail(req, message) for message in messages]}
    if query["limit_given"] and messages and len(messages) == query["limit"]:
        # offset paging that really pages: the next link asks for the following slice
        params = {k: (v[-1] if isinstance(v, list) else v) for k, v in req.params.items()}
        params["offset"] = query["offset"] + len(messages)
        project = getattr(req.context, "url_project_id", None)
        segment = f"/{project}" if project else ""
        body["messages_links"] = [{"rel": "next", "href": (
            f"{req.prefix.rstrip('/')}/v2{segment}/{COLLECTION}?{urlencode(params)}")}]
    return body
