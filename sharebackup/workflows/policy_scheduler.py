"""Backup policies run by themselves: every worker process looks, each tick, for (policy, share)
pairs whose schedule has fallen due, makes each one's backup, and applies retention.

- A due run is an ordinary share backup, made by the same service path as
  `POST /v2/share-backups` (share_backups.create_in: the same quota, states and job), named
  ``<policy>-<UTC time>``, in the project and as the user who created the policy.
- Exactly once: the run row (policy, share, scheduled time) is inserted in the transaction
  that creates the backup, under a unique key. Whatever the number of schedulers, the second
  insert fails in the database and its backup is rolled back with it.
- After downtime, one catch-up run: only the newest missed slot runs (core/schedule.due_slot).
- A run that cannot make its backup (the share busy or gone, the quota full) is recorded as
  ``skipped`` with the reason, and the project gets a user message saying why.
- Retention (core/retention.apply, restic's `forget --keep-*`) runs per (policy, share) over
  that policy's own backups that are ``available`` or ``restoring``, with the run's scheduled
  time as the snapshot time and the policy's timezone for the buckets. Only ``available`` ones
  are deleted (a backup being restored is counted, never pruned); manual backups are never
  considered. Each prune is the normal delete (the backup goes to `deleting`; its quota is freed
  when the delete job has forgotten it, its data when the repository's gc runs),
  written in one transaction with its record on the run that made the newest backup.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from sharebackup.core.context import RequestContext
from sharebackup.core.errors import DomainError
from sharebackup.core.retention import apply as apply_retention
from sharebackup.core.schedule import UTC, due_slot, zone
from sharebackup.db.models import BackupPolicy, BackupPolicyRun, BackupPolicyShare, ShareBackup
from sharebackup.services import messages, share_backups
from sharebackup.services.backup_policies import retention_of, schedule_of
from sharebackup.services.share_backup_requests import CreateRequest
from sharebackup.workflows.periodic import Periodic

LOG = logging.getLogger(__name__)

CREATED, SKIPPED = "backup_created", "skipped"
COUNTED = ("available", "restoring")  # the backups retention decides over
MAX_NAME = 255


def utc_now() -> dt.datetime:
    return dt.datetime.now(UTC)


def _naive(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _aware(stored: dt.datetime) -> dt.datetime:
    return stored.replace(tzinfo=UTC)


@dataclass(frozen=True)
class DueRun:
    policy_id: str
    policy_name: str
    project_id: str
    user_id: str
    backup_type: str | None
    share_id: str
    slot: dt.datetime  # aware UTC

    @property
    def backup_name(self) -> str:
        stamp = self.slot.strftime("-%Y%m%dT%H%M%SZ")
        return self.policy_name[:MAX_NAME - len(stamp)] + stamp

    def context(self) -> RequestContext:
        return owner_context(self.project_id, self.user_id)


class _Detached(Exception):
    """The share left the policy between the look and the run: no run."""


def owner_context(project_id: str, user_id: str) -> RequestContext:
    """The policy's creator, as a project member: the backups are theirs, on their quota."""
    return RequestContext(user_id=user_id, project_id=project_id, roles=["member", "reader"])


class PolicyScheduler(Periodic):
    thread_name = "sharebackup-policy-scheduler"
    failure = "running backup policies failed"

    def __init__(self, rt, clock: Callable[[], dt.datetime] = utc_now, wake: Callable[[], None] | None = None):
        super().__init__()
        self.rt = rt
        self.clock = clock
        self.wake = wake
        settings = rt.config.policies
        self.tick = max(0.2, min(float(settings.scheduler_tick_seconds), float(settings.min_interval_seconds) / 5))

    # -- one look ------------------------------------------------------------------------------
    def run_once(self) -> list[BackupPolicyRun]:
        """Start the due runs, then apply retention; returns the runs this call recorded."""
        recorded = [run for due in self.due_runs(self.clock()) if (run := self.start_run(due)) is not None]
        if any(run.state == CREATED for run in recorded) and self.wake is not None:
            self.wake()
        self.apply_retention()
        return recorded

    def due_runs(self, now: dt.datetime) -> list[DueRun]:
        with self.rt.db.reader() as session:
            policies = list(session.scalars(select(BackupPolicy).where(BackupPolicy.enabled.is_(True))))
        due = []
        for policy in policies:
            if not policy.shares:
                continue
            latest = schedule_of(policy).latest_slot(now)
            for link in policy.shares:
                previous = link.last_scheduled_at and _aware(link.last_scheduled_at)
                slot = due_slot(latest, previous, _aware(link.created_at))
                if slot is not None:
                    due.append(DueRun(policy.id, policy.name, policy.project_id, policy.user_id,
                                      policy.backup_type, link.share_id, slot))
        return due

    @staticmethod
    def _record(session, due: DueRun, **fields) -> BackupPolicyRun:
        """The run row, and the attachment's newest slot; raises IntegrityError when another
        scheduler recorded this slot first, _Detached when the share left the policy meanwhile."""
        run = BackupPolicyRun(policy_id=due.policy_id, share_id=due.share_id, scheduled_at=_naive(due.slot),
                              pruned_backup_ids=[], **fields)
        session.add(run)
        session.flush()  # the unique key decides here: one run per (policy, share, slot)
        moved = session.execute(update(BackupPolicyShare).where(
            BackupPolicyShare.policy_id == due.policy_id, BackupPolicyShare.share_id == due.share_id)
            .values(last_scheduled_at=_naive(due.slot)))
        if moved.rowcount == 0:
            raise _Detached()
        return run

    def start_run(self, due: DueRun) -> BackupPolicyRun | None:
        """The run's backup and its record in one transaction; None when another scheduler ran it."""
        try:
            with self.rt.db.transaction() as session:
                run = self._record(session, due, state=CREATED)
                request = CreateRequest(share_id=due.share_id, name=due.backup_name,
                                        description=f"backup policy {due.policy_name} ({due.policy_id})",
                                        backup_type=due.backup_type,
                                        backup_options={"backup_type": due.backup_type} if due.backup_type else {})
                backup = share_backups.create_in(session, self.rt, due.context(), request)
                backup.policy_id, backup.policy_run_id, run.backup_id = due.policy_id, run.id, backup.id
            LOG.info("backup policy %s: run %s of share %s at %s made backup %s", due.policy_id, run.id,
                     due.share_id, due.slot.isoformat(), backup.id)
            return run
        except (IntegrityError, _Detached):
            return None  # another scheduler took this slot (or the policy or the attachment is gone)
        except DomainError as exc:
            return self._skip(due, exc.message)

    def _skip(self, due: DueRun, reason: str) -> BackupPolicyRun | None:
        try:
            with self.rt.db.transaction() as session:
                run = self._record(session, due, state=SKIPPED, reason=reason[:1023], retention_done=True)
                messages.create_message(
                    session, due.project_id, messages.SHARE, due.share_id, messages.SCHEDULED_BACKUP[0],
                    messages.POLICY_RUN_SKIPPED, messages.WARNING,
                    f"run scheduled share backup: backup policy '{due.policy_name}' skipped its run of "
                    f"{due.slot.strftime('%Y-%m-%d %H:%M:%S')} UTC: {reason}",
                    ttl_seconds=self.rt.config.message_ttl)
            LOG.warning("backup policy %s: run of share %s at %s skipped: %s", due.policy_id, due.share_id,
                        due.slot.isoformat(), reason)
            return run
        except IntegrityError:
            return None

    # -- retention -----------------------------------------------------------------------------
    def apply_retention(self) -> list[str]:
        """Prune what retention no longer keeps, in each (policy, share) with a run whose backup
        has finished since the last look; returns the pruned ids."""
        with self.rt.db.reader() as session:
            pending = session.execute(
                select(BackupPolicyRun.policy_id, BackupPolicyRun.share_id, BackupPolicyRun.id)
                .join(ShareBackup, ShareBackup.id == BackupPolicyRun.backup_id)
                .where(BackupPolicyRun.retention_done.is_(False),
                       or_(ShareBackup.deleted.is_(True), ShareBackup.status != "creating"))).all()
        groups: dict[tuple[str, str], list[str]] = {}
        for policy_id, share_id, run_id in pending:
            groups.setdefault((policy_id, share_id), []).append(run_id)
        pruned = []
        for (policy_id, share_id), run_ids in groups.items():
            try:
                pruned.extend(self._prune(policy_id, share_id))
            except Exception:  # one policy's trouble must not stop the others' retention
                LOG.exception("backup policy %s: retention of share %s failed", policy_id, share_id)
                continue
            with self.rt.db.transaction() as session:
                session.execute(update(BackupPolicyRun).where(BackupPolicyRun.id.in_(run_ids))
                                .values(retention_done=True))
        return pruned

    def _prune(self, policy_id: str, share_id: str) -> list[str]:
        with self.rt.db.reader() as session:
            policy = session.get(BackupPolicy, policy_id)
            group = session.execute(
                select(ShareBackup.id, ShareBackup.status, BackupPolicyRun.scheduled_at, BackupPolicyRun.id)
                .join(BackupPolicyRun, BackupPolicyRun.id == ShareBackup.policy_run_id)
                .where(ShareBackup.policy_id == policy_id, ShareBackup.share_id == share_id,
                       ShareBackup.deleted.is_(False), ShareBackup.status.in_(COUNTED))).all()
        if policy is None or not group:
            return []
        newest_run = max(group, key=lambda row: (row[2], row[3]))[3]
        decisions = apply_retention([(row[0], _aware(row[2])) for row in group], retention_of(policy.retention),
                                    zone(policy.timezone))
        status = {row[0]: row[1] for row in group}
        pruned = [decision.id for decision in decisions if not decision.keep and status[decision.id] == "available"
                  and self._delete(policy, decision.id, newest_run)]
        if pruned:
            self.rt.notify_workers()
            LOG.info("backup policy %s: retention pruned %s", policy.id, ", ".join(pruned))
        return pruned

    def _delete(self, policy: BackupPolicy, backup_id: str, run_id: str) -> bool:
        try:
            with self.rt.db.transaction() as session:
                share_backups.delete_in(session, self.rt, owner_context(policy.project_id, policy.user_id),
                                        backup_id, deletable=("available",))
                run = session.get(BackupPolicyRun, run_id, with_for_update=True)
                if run is not None:
                    run.pruned_backup_ids = [*run.pruned_backup_ids, backup_id]
            return True
        except DomainError:  # restored, deleted or changed since it was read: the next look decides
            return False


def start_policy_scheduler(rt, wake: Callable[[], None] | None = None) -> PolicyScheduler:
    return PolicyScheduler(rt, wake=wake).start()
