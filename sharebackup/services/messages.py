"""User messages (Manila's /v2/messages): what went wrong with an asynchronous request, in words.

Workers write them with ``create_message`` inside the transaction that records the failure,
so a failed state and its explanation appear together. A message lives ``message_ttl``
seconds; expired messages are not shown (and are removed when a new message is written).
Action and detail ids follow Manila's numbering where Manila has one (028 restore share
backup); the backup create/delete actions and the details below are ours (1xx), because
Manila writes no message for those failures at all.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete as sql_delete, func, select
from sqlalchemy.orm import Session

from sharebackup.core.context import RequestContext
from sharebackup.core.runtime import Runtime
from sharebackup.core.errors import NotFound
from sharebackup.db.models import Message, utcnow
from sharebackup.core.text import display_text

DEFAULT_TTL = 2592000

# resource types
SHARE = "SHARE"
SHARE_BACKUP = "SHARE_BACKUP"

# (action id, words)
RESTORE_BACKUP = ("028", "restore share backup")
CREATE_BACKUP = ("101", "create share backup")
DELETE_BACKUP = ("102", "delete share backup")
SCHEDULED_BACKUP = ("103", "run scheduled share backup")

# detail ids
UNKNOWN_ERROR = "001"
SHARE_UNREADABLE = "101"
REPOSITORY_UNAVAILABLE = "102"
FILES_SKIPPED = "103"
RESTORE_INCOMPLETE = "104"
JOB_INTERRUPTED = "105"
BACKUP_DATA_MISSING = "106"
POLICY_RUN_SKIPPED = "107"

ERROR, WARNING = "ERROR", "WARNING"

SORT_KEYS = ("id", "project_id", "request_id", "resource_type", "resource_id", "action_id", "detail_id",
             "message_level", "created_at", "expires_at")
FILTER_KEYS = ("request_id", "resource_type", "resource_id", "action_id", "detail_id", "message_level")


def create_message(session: Session, project_id: str, resource_type: str, resource_id: str | None,
                   action_id: str, detail_id: str | None, level: str, text: str,
                   request_id: str | None = None, ttl_seconds: int = DEFAULT_TTL) -> Message:
    """Add a message to ``session`` (the caller's transaction); ``text`` is the whole user_message.

    ``text`` often quotes file names from a share; ``display_text`` escapes what the database
    could not store (a name that is not UTF-8), which would otherwise fail the whole transaction
    and with it the failed state this message explains."""
    now = utcnow()
    session.execute(sql_delete(Message).where(Message.expires_at < now))  # the reaper, amortised
    message = Message(project_id=project_id, resource_type=resource_type, resource_id=resource_id,
                      action_id=action_id, detail_id=detail_id, message_level=level,
                      user_message=display_text(text)[:4000], request_id=request_id, created_at=now,
                      expires_at=now + dt.timedelta(seconds=ttl_seconds))
    session.add(message)
    return message


def _visible(stmt, ctx: RequestContext):
    stmt = stmt.where(Message.deleted.is_(False),
                      (Message.expires_at.is_(None)) | (Message.expires_at >= utcnow()))
    if not ctx.is_admin:
        stmt = stmt.where(Message.project_id == ctx.project_id)
    return stmt


def get(rt: Runtime, ctx: RequestContext, message_id: str) -> Message:
    with rt.db.reader() as session:
        message = session.scalars(_visible(select(Message), ctx).where(Message.id == message_id)).first()
    if message is None:
        raise NotFound(f"Message {message_id} could not be found.")
    return message


def delete(rt: Runtime, ctx: RequestContext, message_id: str) -> None:
    with rt.db.transaction() as session:
        message = session.scalars(_visible(select(Message), ctx).where(Message.id == message_id)).first()
        if message is None:
            raise NotFound(f"Message {message_id} could not be found.")
        session.delete(message)


def list_messages(rt: Runtime, ctx: RequestContext, query: dict) -> tuple[list[Message], int]:
    """The caller's project (every project for an admin), Manila's exact filters, the
    created_since/created_before window, then sort, offset and limit. Returns (page, total)."""
    stmt = _visible(select(Message), ctx)
    for key, value in query["filters"].items():
        stmt = stmt.where(getattr(Message, key) == value)
    if query.get("created_since") is not None:
        stmt = stmt.where(Message.created_at >= query["created_since"])
    if query.get("created_before") is not None:
        stmt = stmt.where(Message.created_at <= query["created_before"])
    column = getattr(Message, query["sort_key"])
    desc = query["sort_dir"] == "desc"
    stmt = stmt.order_by(column.desc() if desc else column.asc(), Message.id.desc() if desc else Message.id.asc())
    with rt.db.reader() as session:
        total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
        rows = list(session.scalars(stmt.offset(query["offset"]).limit(query["limit"])))
    return rows, total
