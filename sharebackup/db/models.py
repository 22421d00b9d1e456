"""SQLAlchemy 2 models. Column names follow Manila's where a client can see the difference."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from sharebackup.core.booleans import spec_bool


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> dt.datetime:
    # Naive UTC, as Manila stores and prints it (2023-08-16T13:03:59.000000).
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, onupdate=utcnow)


class ShareType(TimestampMixin, Base):
    __tablename__ = "share_types"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(String(255))
    is_public: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    extra_specs: Mapped[list[ShareTypeExtraSpec]] = relationship(
        back_populates="share_type", cascade="all, delete-orphan", lazy="selectin")
    projects: Mapped[list[ShareTypeProject]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def specs(self) -> dict[str, str]:
        return {spec.key: spec.value for spec in self.extra_specs}

    def spec_is_true(self, key: str, default: bool = False) -> bool:
        """A boolean extra spec as Manila reads it ("True", "<is> True", ...); default when unset."""
        specs = self.specs
        if key not in specs:
            return default
        parsed = spec_bool(specs[key])
        return default if parsed is None else parsed


class ShareTypeExtraSpec(Base):
    __tablename__ = "share_type_extra_specs"
    __table_args__ = (UniqueConstraint("share_type_id", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    share_type_id: Mapped[str] = mapped_column(ForeignKey("share_types.id"), nullable=False)
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    value: Mapped[str] = mapped_column(String(1023), nullable=False)
    share_type: Mapped[ShareType] = relationship(back_populates="extra_specs")


class ShareTypeProject(Base):
    """Access of a project to a private share type."""
    __tablename__ = "share_type_projects"
    __table_args__ = (UniqueConstraint("share_type_id", "project_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    share_type_id: Mapped[str] = mapped_column(ForeignKey("share_types.id"), nullable=False)
    project_id: Mapped[str] = mapped_column(String(255), nullable=False)


class Share(TimestampMixin, Base):
    __tablename__ = "shares"
    # GET /v2/shares pages in SQL, sorted by created_at then id (the default sort): a page costs
    # the page, not the project's or the cloud's shares (benchmarks/share_list_benchmark.py).
    __table_args__ = (
        Index("ix_shares_project_listing", "project_id", "deleted", "is_soft_deleted", "created_at", "id"),
        Index("ix_shares_all_listing", "deleted", "is_soft_deleted", "created_at", "id"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False, index=True)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    user_id: Mapped[str] = mapped_column(String(255), nullable=False)
    project_id: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    display_name: Mapped[str | None] = mapped_column(String(255))
    display_description: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    share_proto: Mapped[str] = mapped_column(String(255), nullable=False)
    share_type_id: Mapped[str | None] = mapped_column(ForeignKey("share_types.id"))
    status: Mapped[str] = mapped_column(String(255), nullable=False)
    task_state: Mapped[str | None] = mapped_column(String(255))
    progress: Mapped[str | None] = mapped_column(String(32))
    availability_zone: Mapped[str | None] = mapped_column(String(255))
    is_public: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    metadata_: Mapped[dict] = mapped_column("metadata", JSON, default=dict, nullable=False)
    snapshot_id: Mapped[str | None] = mapped_column(String(36))
    share_network_id: Mapped[str | None] = mapped_column(String(36))
    share_group_id: Mapped[str | None] = mapped_column(String(36))
    source_backup_id: Mapped[str | None] = mapped_column(String(36))
    host: Mapped[str | None] = mapped_column(String(255))
    mount_point_name: Mapped[str | None] = mapped_column(String(255))
    encryption_key_ref: Mapped[str | None] = mapped_column(String(255))
    is_soft_deleted: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    scheduled_to_be_deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Where the local driver keeps the files; managed shares point at an adopted directory.
    driver_path: Mapped[str | None] = mapped_column(Text)
    is_managed: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    share_type: Mapped[ShareType | None] = relationship(lazy="joined")
    export_locations: Mapped[list[ShareExportLocation]] = relationship(
        back_populates="share", cascade="all, delete-orphan", lazy="selectin",
        order_by="ShareExportLocation.created_at")


class ShareExportLocation(TimestampMixin, Base):
    __tablename__ = "share_export_locations"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    share_id: Mapped[str] = mapped_column(ForeignKey("shares.id"), nullable=False, index=True)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    preferred: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    is_admin_only: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    metadata_: Mapped[dict] = mapped_column("metadata", JSON, default=dict, nullable=False)
    share: Mapped[Share] = relationship(back_populates="export_locations")


class ShareSnapshot(TimestampMixin, Base):
    __tablename__ = "share_snapshots"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False, index=True)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    user_id: Mapped[str] = mapped_column(String(255), nullable=False)
    project_id: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    share_id: Mapped[str] = mapped_column(ForeignKey("shares.id"), nullable=False, index=True)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    share_size: Mapped[int] = mapped_column(Integer, nullable=False)
    share_proto: Mapped[str] = mapped_column(String(255), nullable=False)
    status: Mapped[str] = mapped_column(String(255), nullable=False)
    progress: Mapped[str | None] = mapped_column(String(32))
    display_name: Mapped[str | None] = mapped_column(String(255))
    display_description: Mapped[str | None] = mapped_column(String(255))
    metadata_: Mapped[dict] = mapped_column("metadata", JSON, default=dict, nullable=False)
    driver_path: Mapped[str | None] = mapped_column(Text)


class ShareBackup(TimestampMixin, Base):
    """A share backup (the API comes with the share-backups issue; shares need the table now)."""
    __tablename__ = "share_backups"
    # The listing pages in SQL, sorted by created_at then id (the default sort): these keep a page's
    # cost growing with the page, not with the table, for a project and for all projects.
    __table_args__ = (
        Index("ix_share_backups_project_listing", "project_id", "deleted", "created_at", "id"),
        Index("ix_share_backups_all_listing", "deleted", "created_at", "id"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False, index=True)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    user_id: Mapped[str] = mapped_column(String(255), nullable=False)
    project_id: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    share_id: Mapped[str] = mapped_column(ForeignKey("shares.id"), nullable=False, index=True)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    host: Mapped[str | None] = mapped_column(String(255))
    topic: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(255))
    display_description: Mapped[str | None] = mapped_column(String(255))
    progress: Mapped[str | None] = mapped_column(String(32))
    restore_progress: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(255), nullable=False)
    fail_reason: Mapped[str | None] = mapped_column(String(1023))
    backup_type: Mapped[str | None] = mapped_column(String(32))
    availability_zone: Mapped[str | None] = mapped_column(String(255))
    # The worker's side (never shown by the API): the engine snapshot holding this backup and the
    # configured repository it lives in.
    engine_snapshot_id: Mapped[str | None] = mapped_column(String(64))
    repository: Mapped[str | None] = mapped_column(String(64))
    # Set when a backup policy's run made this backup (only /sharebackup/v1 shows them); cleared
    # when the policy is deleted, which makes it a plain backup that no retention prunes.
    policy_id: Mapped[str | None] = mapped_column(String(36), index=True)
    policy_run_id: Mapped[str | None] = mapped_column(String(36))


class Quota(Base):
    """An operator-set limit. user_id '' is the project-wide limit."""
    __tablename__ = "quotas"
    __table_args__ = (UniqueConstraint("project_id", "user_id", "resource"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(String(255), nullable=False)
    user_id: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    resource: Mapped[str] = mapped_column(String(255), nullable=False)
    hard_limit: Mapped[int] = mapped_column(Integer, nullable=False)


class QuotaClass(Base):
    """A quota class limit (Manila's quota_classes); class ``default`` overrides the configured defaults."""
    __tablename__ = "quota_classes"
    __table_args__ = (UniqueConstraint("class_name", "resource"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    class_name: Mapped[str] = mapped_column(String(255), nullable=False)
    resource: Mapped[str] = mapped_column(String(255), nullable=False)
    hard_limit: Mapped[int] = mapped_column(Integer, nullable=False)


class QuotaLock(Base):
    """One row per project, locked (FOR UPDATE) by every transaction that consumes or frees quota.

    Usage is never stored as a counter that can drift: it is counted from the resource rows
    inside the same locked transaction that inserts or deletes them.
    """
    __tablename__ = "quota_locks"
    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)


class Job(TimestampMixin, Base):
    """The job row is the queue: workers claim it under a lease and renew the lease as they go."""
    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    resource_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)
    payload: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    state: Mapped[str] = mapped_column(String(32), nullable=False, default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3, nullable=False)
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime, index=True)
    not_before: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Only workers of this zone (or of any zone) claim the job; None: any worker (share jobs).
    availability_zone: Mapped[str | None] = mapped_column(String(255))


class RepositoryLease(Base):
    """A lease lock on one configured repository, held in the database (garbage collection).

    One row per repository name. A holder writes its name and an expiry and renews it by
    heartbeat; an expired row may be taken over. The row outlives its holders, so it also
    records when the last collection finished (workers schedule the next one from it).
    """
    __tablename__ = "repository_leases"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(255))
    purpose: Mapped[str | None] = mapped_column(String(64))
    acquired_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # `sharebackup repo check --name` records its end and its verdict here (the console shows it)
    last_check_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_check_result: Mapped[str | None] = mapped_column(String(255))


class Message(TimestampMixin, Base):
    """Manila's user messages (/v2/messages)."""
    __tablename__ = "messages"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    request_id: Mapped[str | None] = mapped_column(String(255))
    resource_type: Mapped[str] = mapped_column(String(255), nullable=False)
    resource_id: Mapped[str | None] = mapped_column(String(36))
    action_id: Mapped[str] = mapped_column(String(10), nullable=False)
    detail_id: Mapped[str | None] = mapped_column(String(10))
    message_level: Mapped[str] = mapped_column(String(255), nullable=False)
    user_message: Mapped[str] = mapped_column(Text, nullable=False)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)


class BackupPolicy(TimestampMixin, Base):
    """A schedule and a retention for the shares attached to it (/sharebackup/v1/backup-policies)."""
    __tablename__ = "backup_policies"
    __table_args__ = (Index("ix_backup_policies_listing", "project_id", "created_at", "id"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(String(255), nullable=False)
    user_id: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    schedule: Mapped[str] = mapped_column(String(255), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
    backup_type: Mapped[str | None] = mapped_column(String(32))
    retention: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    shares: Mapped[list[BackupPolicyShare]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="BackupPolicyShare.created_at")


class BackupPolicyShare(Base):
    """A share attached to a policy; created_at is when its protection began (no run before it)."""
    __tablename__ = "backup_policy_shares"
    __table_args__ = (UniqueConstraint("policy_id", "share_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    policy_id: Mapped[str] = mapped_column(ForeignKey("backup_policies.id"), nullable=False)
    share_id: Mapped[str] = mapped_column(ForeignKey("shares.id"), nullable=False, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    # The newest slot run for this share (written with the run), so a look at what is due
    # reads the attachments, not the run history.
    last_scheduled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class BackupPolicyRun(TimestampMixin, Base):
    """One scheduled slot of one (policy, share): the backup it made, or why it made none, and
    what retention pruned after it. The unique key is the exactly-once guarantee: whatever the
    number of schedulers, a second insert of the same slot fails in the database."""
    __tablename__ = "backup_policy_runs"
    __table_args__ = (UniqueConstraint("policy_id", "share_id", "scheduled_at",
                                       name="uq_backup_policy_runs_slot"),
                      Index("ix_backup_policy_runs_history", "policy_id", "scheduled_at", "id"))
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    policy_id: Mapped[str] = mapped_column(ForeignKey("backup_policies.id"), nullable=False)
    share_id: Mapped[str] = mapped_column(String(36), nullable=False)
    scheduled_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)  # naive UTC
    state: Mapped[str] = mapped_column(String(32), nullable=False)  # backup_created | skipped
    reason: Mapped[str | None] = mapped_column(String(1023))
    backup_id: Mapped[str | None] = mapped_column(String(36))
    pruned_backup_ids: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    # False until retention has looked at (policy, share) with this run's backup available: the
    # scheduler prunes only where something changed, not every group on every look.
    retention_done: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False, index=True)


class WorkerHeartbeat(Base):
    """A worker process that is alive: it writes seen_at every few seconds (the console's
    "workers" list); its row goes when it stops cleanly, and grows old when it dies."""
    __tablename__ = "worker_heartbeats"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)  # host:pid
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    pid: Mapped[int] = mapped_column(Integer, nullable=False)
    threads: Mapped[int] = mapped_column(Integer, nullable=False)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
