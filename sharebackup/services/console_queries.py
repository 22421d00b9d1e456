"""What the web console's pages show, read the way the API reads it: a caller sees their own
project's rows (the API's project-scoped lookups); the admin pages are for admins only (the
console checks the same policy rules as the API before it calls these)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, func, select

from sharebackup.core.context import RequestContext
from sharebackup.core.runtime import Runtime
from sharebackup.db.models import (BackupPolicy, BackupPolicyShare, Job, Message, RepositoryLease, Share,
                                   ShareBackup, WorkerHeartbeat, utcnow)

PAGE = 200


@dataclass
class ShareRow:
    share: Share
    latest: ShareBackup | None
    policies: list[str]


def shares(rt: Runtime, ctx: RequestContext) -> list[ShareRow]:
    """The project's shares, newest first, each with its newest available backup and the names
    of the enabled policies protecting it."""
    with rt.db.reader() as session:
        rows = list(session.scalars(select(Share).where(Share.project_id == ctx.project_id, Share.deleted.is_(False))
                                    .order_by(Share.created_at.desc()).limit(PAGE)))
        ids = [row.id for row in rows]
        newest = select(ShareBackup.share_id, func.max(ShareBackup.created_at).label("at")).where(
            ShareBackup.share_id.in_(ids), ShareBackup.deleted.is_(False), ShareBackup.status == "available"
        ).group_by(ShareBackup.share_id).subquery()
        latest = {b.share_id: b for b in session.scalars(select(ShareBackup).join(
            newest, (ShareBackup.share_id == newest.c.share_id) & (ShareBackup.created_at == newest.c.at)))}
        protected: dict[str, list[str]] = {}
        for share_id, name in session.execute(select(BackupPolicyShare.share_id, BackupPolicy.name).join(
                BackupPolicy, BackupPolicy.id == BackupPolicyShare.policy_id).where(
                BackupPolicyShare.share_id.in_(ids), BackupPolicy.enabled.is_(True))):
            protected.setdefault(share_id, []).append(name)
    return [ShareRow(row, latest.get(row.id), sorted(protected.get(row.id, []))) for row in rows]


def backups(rt: Runtime, ctx: RequestContext, share_id: str | None = None) -> list[tuple[ShareBackup, str | None]]:
    """The project's backups, newest first, with their share's name."""
    with rt.db.reader() as session:
        stmt = (select(ShareBackup, Share.display_name).join(Share, Share.id == ShareBackup.share_id)
                .where(ShareBackup.project_id == ctx.project_id, ShareBackup.deleted.is_(False)))
        if share_id:
            stmt = stmt.where(ShareBackup.share_id == share_id)
        return [(row[0], row[1]) for row in session.execute(stmt.order_by(ShareBackup.created_at.desc()).limit(PAGE))]


def messages(rt: Runtime, ctx: RequestContext) -> list[Message]:
    with rt.db.reader() as session:
        return list(session.scalars(select(Message).where(
            Message.project_id == ctx.project_id, Message.deleted.is_(False),
            (Message.expires_at.is_(None)) | (Message.expires_at > utcnow())).order_by(Message.created_at.desc())
            .limit(PAGE)))


# -- admin ------------------------------------------------------------------------------------------

def jobs(rt: Runtime, states=("running", "queued", "failed")) -> list[Job]:
    with rt.db.reader() as session:
        order = case({"running": 0, "queued": 1}, value=Job.state, else_=2)
        return list(session.scalars(select(Job).where(Job.state.in_(states))
                                    .order_by(order, Job.updated_at.desc(), Job.created_at.desc()).limit(PAGE)))


def lease_age(job: Job, lease_seconds: float) -> float | None:
    """Seconds since the job's holder last renewed its lease (None when nobody holds it)."""
    if job.lease_expires_at is None or job.state != "running":
        return None
    renewed = job.lease_expires_at - dt.timedelta(seconds=lease_seconds)
    return max(0.0, (utcnow() - renewed).total_seconds())


def repository_records(rt: Runtime) -> dict[str, RepositoryLease]:
    """Each repository's lease row: its last gc, its last check and the check's verdict."""
    with rt.db.reader() as session:
        return {row.name: row for row in session.scalars(select(RepositoryLease))}


def daily_activity(rt: Runtime, days: int = 30) -> list[dict]:
    """Per day (UTC) of the last ``days``: backups made, their GiB, and failures, all projects."""
    since = (utcnow() - dt.timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    day = func.date(ShareBackup.created_at)
    with rt.db.reader() as session:
        rows = session.execute(select(day, func.count(), func.sum(ShareBackup.size),
                                      func.sum(case((ShareBackup.status == "error", 1), else_=0)))
                               .where(ShareBackup.created_at >= since).group_by(day)).all()
    found = {str(row[0]): row for row in rows}
    out = []
    for offset in range(days):
        key = (since + dt.timedelta(days=offset)).date().isoformat()
        row = found.get(key)
        out.append({"day": key, "backups": int(row[1]) if row else 0, "gigabytes": int(row[2] or 0) if row else 0,
                    "failures": int(row[3] or 0) if row else 0})
    return out


def workers(rt: Runtime, stale_seconds: float = 30.0) -> list[dict]:
    """Worker processes by their heartbeats: alive (renewed within ``stale_seconds``) or silent."""
    now = utcnow()
    with rt.db.reader() as session:
        rows = list(session.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.started_at)))
    return [{"name": row.name, "threads": row.threads, "started_at": row.started_at, "seen_at": row.seen_at,
             "alive": (now - row.seen_at).total_seconds() <= stale_seconds} for row in rows]
