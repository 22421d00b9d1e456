"""Backup policies (/sharebackup/v1/backup-policies): a schedule and a retention for the shares
attached to them. The scheduler (workflows/policy_scheduler.py) runs them; this module keeps
their rows and their rules.

Rules users rely on:
- a policy belongs to the project that created it; only that project's shares can be
  attached (another project's share is 404, for admins too: a policy's backups are charged
  to its project's quota);
- the schedule is checked against ``[policies] min_interval_seconds``, the timezone is an
  IANA name, backup_type names a configured repository, and retention keeps something;
- deleting a policy keeps its backups, as plain backups (no retention prunes them after);
- a share that is deleted is detached (detach_share, called where shares are deleted).
"""
from __future__ import annotations

import functools

from sqlalchemy import delete as sql_delete, select, update as sql_update
from sqlalchemy.orm import Session

from sharebackup.core.context import RequestContext
from sharebackup.core.errors import Conflict, Invalid, NotFound
from sharebackup.core.retention import Retention, Within
from sharebackup.core.runtime import Runtime
from sharebackup.core.schedule import Schedule
from sharebackup.db.models import (BackupPolicy, BackupPolicyRun, BackupPolicyShare, Share, ShareBackup,
                                   utcnow)
from sharebackup.policies import backup_policies as rules
from sharebackup.services import repository_names
from sharebackup.services.ids import bad_id
from sharebackup.services.keyset_page import newest_first

KEEP_COUNTS = ("keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly")
RETENTION_KEYS = KEEP_COUNTS + ("keep_within",)


def retention_of(stored: dict) -> Retention:
    """The core retention of a policy's stored retention (validated on the way in)."""
    within = stored.get("keep_within")
    return Retention(**{key: int(stored.get(key) or 0) for key in KEEP_COUNTS},
                     keep_within=Within.parse(within) if within else Within())


def schedule_of(policy: BackupPolicy) -> Schedule:
    """The stored schedule (checked against the minimum when it was written, not again: an
    operator who raises the minimum later does not break existing policies)."""
    return _stored_schedule(policy.schedule, policy.timezone)


@functools.lru_cache(maxsize=1024)  # the scheduler asks on every look; parsing a cron rule is not free
def _stored_schedule(text: str, timezone: str) -> Schedule:
    return Schedule.parse(text, timezone, min_interval_seconds=0)


def _checked(rt: Runtime, values: dict, schedule_changed: bool = True) -> dict:
    """400 with words a user can act on for a schedule, timezone, backup_type or retention that
    cannot work; ``values`` is the whole policy as it would be stored. The shortest interval is
    checked only when the schedule or its timezone changes: after an operator raises
    `[policies] min_interval_seconds`, an older policy can still be renamed or disabled."""
    values["schedule"] = values["schedule"].strip()
    try:
        Schedule.parse(values["schedule"], values["timezone"],
                       rt.config.policies.min_interval_seconds if schedule_changed else 0)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    backup_type = values.get("backup_type")
    known = repository_names.repositories(rt.config)
    if backup_type is not None and backup_type not in known:
        raise Invalid(f"Invalid backup_type '{backup_type}': no backup repository of that name is configured. "
                      f"Available: {sorted(known)}.")
    try:
        retention = retention_of(values["retention"])
    except ValueError as exc:
        raise Invalid(f"Invalid retention: {exc}") from None
    if not retention:
        raise Invalid("Invalid retention: keep something: give at least one of "
                      f"{', '.join(RETENTION_KEYS)} (every keep is zero or absent).")
    return values


def _find(session: Session, ctx: RequestContext, policy_id: str, lock: bool = False) -> BackupPolicy:
    policy = None
    if not bad_id(policy_id, 36):
        query = select(BackupPolicy).where(BackupPolicy.id == policy_id)
        if not ctx.is_admin:
            query = query.where(BackupPolicy.project_id == ctx.project_id)
        if lock:
            query = query.with_for_update(of=BackupPolicy)
        policy = session.scalars(query).first()
    if policy is None:
        raise NotFound(f"Backup policy {policy_id} could not be found.")
    return policy


def create(rt: Runtime, ctx: RequestContext, values: dict) -> BackupPolicy:
    values = _checked(rt, {"timezone": "UTC", "enabled": True, **values})
    with rt.db.transaction() as session:
        policy = BackupPolicy(project_id=ctx.project_id, user_id=ctx.user_id, **values)
        session.add(policy)
        session.flush()
    return get(rt, ctx, policy.id)


def get(rt: Runtime, ctx: RequestContext, policy_id: str) -> BackupPolicy:
    with rt.db.reader() as session:
        return _find(session, ctx, policy_id)


def list_policies(rt: Runtime, ctx: RequestContext, marker: str | None, limit: int,
                  all_tenants: bool) -> tuple[list[BackupPolicy], bool]:
    stmt = select(BackupPolicy)
    if not (all_tenants and rt.policy.check(ctx, rules.GET_ALL_PROJECT)):
        stmt = stmt.where(BackupPolicy.project_id == ctx.project_id)
    with rt.db.reader() as session:
        return newest_first(session, stmt, BackupPolicy.created_at, BackupPolicy.id, marker, limit)


def update(rt: Runtime, ctx: RequestContext, policy_id: str, changes: dict) -> BackupPolicy:
    """A partial update; a partial retention changes only the keeps it names."""
    with rt.db.transaction() as session:
        policy = _find(session, ctx, policy_id, lock=True)
        current = {key: getattr(policy, key) for key in ("name", "description", "enabled", "schedule",
                                                          "timezone", "backup_type")}
        current["retention"] = dict(policy.retention)
        retention = {**current["retention"], **changes.pop("retention", {})}
        moved = any(key in changes and changes[key] != current[key] for key in ("schedule", "timezone"))
        merged = _checked(rt, {**current, **changes, "retention": retention}, schedule_changed=moved)
        if merged["retention"] != current["retention"] or merged["timezone"] != current["timezone"]:
            # the scheduler looks at retention again for every share of the policy
            session.execute(sql_update(BackupPolicyRun).where(BackupPolicyRun.policy_id == policy.id,
                                                              BackupPolicyRun.backup_id.is_not(None))
                            .values(retention_done=False))
        for key, value in merged.items():
            setattr(policy, key, value)
        policy.updated_at = utcnow()
    return get(rt, ctx, policy_id)


def delete(rt: Runtime, ctx: RequestContext, policy_id: str) -> None:
    """The policy, its attachments and its run history go; its backups stay as plain backups."""
    with rt.db.transaction() as session:
        policy = _find(session, ctx, policy_id, lock=True)
        session.execute(sql_update(ShareBackup).where(ShareBackup.policy_id == policy.id)
                        .values(policy_id=None, policy_run_id=None))
        session.execute(sql_delete(BackupPolicyRun).where(BackupPolicyRun.policy_id == policy.id))
        session.delete(policy)


def attach(rt: Runtime, ctx: RequestContext, policy_id: str, share_id: str) -> BackupPolicy:
    with rt.db.transaction() as session:
        policy = _find(session, ctx, policy_id, lock=True)
        share = None
        if not bad_id(share_id, 36):
            share = session.scalars(select(Share).where(Share.id == share_id, Share.deleted.is_(False))).first()
        if share is None or share.project_id != policy.project_id:
            raise NotFound(f"Share {share_id} could not be found.")
        if any(link.share_id == share.id for link in policy.shares):
            raise Conflict(f"Share {share.id} is already attached to backup policy {policy.id}.")
        policy.shares.append(BackupPolicyShare(share_id=share.id))
        policy.updated_at = utcnow()
    return get(rt, ctx, policy_id)


def detach(rt: Runtime, ctx: RequestContext, policy_id: str, share_id: str) -> None:
    with rt.db.transaction() as session:
        policy = _find(session, ctx, policy_id, lock=True)
        link = next((link for link in policy.shares if link.share_id == share_id), None)
        if link is None:
            raise NotFound(f"Share {share_id} is not attached to backup policy {policy.id}.")
        policy.shares.remove(link)
        policy.updated_at = utcnow()


def detach_share(session: Session, share_id: str) -> None:
    """A share that is deleted leaves every policy (in the transaction that deletes it)."""
    session.execute(sql_delete(BackupPolicyShare).where(BackupPolicyShare.share_id == share_id))


def list_runs(rt: Runtime, ctx: RequestContext, policy_id: str, marker: str | None,
              limit: int) -> tuple[list[BackupPolicyRun], bool]:
    """The run history, newest scheduled time first."""
    with rt.db.reader() as session:
        policy = _find(session, ctx, policy_id)
        stmt = select(BackupPolicyRun).where(BackupPolicyRun.policy_id == policy.id)
        return newest_first(session, stmt, BackupPolicyRun.scheduled_at, BackupPolicyRun.id, marker, limit)
