"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-29 12:53:14.580986
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """One function per table, in an order that satisfies the foreign keys."""
    _jobs()
    _messages()
    _repository_leases()
    _quota_classes()
    _quota_locks()
    _quotas()
    _share_types()
    _share_type_extra_specs()
    _share_type_projects()
    _shares()
    _share_backups()
    _share_export_locations()
    _share_snapshots()


def _jobs() -> None:
    op.create_table('jobs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('resource_id', sa.String(length=36), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('lease_owner', sa.String(length=255), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(), nullable=True),
    sa.Column('not_before', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('availability_zone', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_lease_expires_at'), ['lease_expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_resource_id'), ['resource_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_state'), ['state'], unique=False)


def _messages() -> None:
    op.create_table('messages',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('request_id', sa.String(length=255), nullable=True),
    sa.Column('resource_type', sa.String(length=255), nullable=False),
    sa.Column('resource_id', sa.String(length=36), nullable=True),
    sa.Column('action_id', sa.String(length=10), nullable=False),
    sa.Column('detail_id', sa.String(length=10), nullable=True),
    sa.Column('message_level', sa.String(length=255), nullable=False),
    sa.Column('user_message', sa.Text(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_messages_project_id'), ['project_id'], unique=False)


def _repository_leases() -> None:
    op.create_table('repository_leases',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=255), nullable=True),
    sa.Column('purpose', sa.String(length=64), nullable=True),
    sa.Column('acquired_at', sa.DateTime(), nullable=True),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('last_finished_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('name')
    )


def _quota_classes() -> None:
    op.create_table('quota_classes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('class_name', sa.String(length=255), nullable=False),
    sa.Column('resource', sa.String(length=255), nullable=False),
    sa.Column('hard_limit', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('class_name', 'resource')
    )


def _quota_locks() -> None:
    op.create_table('quota_locks',
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('project_id')
    )


def _quotas() -> None:
    op.create_table('quotas',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('resource', sa.String(length=255), nullable=False),
    sa.Column('hard_limit', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('project_id', 'user_id', 'resource')
    )


def _share_types() -> None:
    op.create_table('share_types',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.Column('is_public', sa.Boolean(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )


def _share_type_extra_specs() -> None:
    op.create_table('share_type_extra_specs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('share_type_id', sa.String(length=36), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('value', sa.String(length=1023), nullable=False),
    sa.ForeignKeyConstraint(['share_type_id'], ['share_types.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('share_type_id', 'key')
    )


def _share_type_projects() -> None:
    op.create_table('share_type_projects',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('share_type_id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['share_type_id'], ['share_types.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('share_type_id', 'project_id')
    )


def _shares() -> None:
    op.create_table('shares',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('display_name', sa.String(length=255), nullable=True),
    sa.Column('display_description', sa.String(length=255), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('share_proto', sa.String(length=255), nullable=False),
    sa.Column('share_type_id', sa.String(length=36), nullable=True),
    sa.Column('status', sa.String(length=255), nullable=False),
    sa.Column('task_state', sa.String(length=255), nullable=True),
    sa.Column('progress', sa.String(length=32), nullable=True),
    sa.Column('availability_zone', sa.String(length=255), nullable=True),
    sa.Column('is_public', sa.Boolean(), nullable=False),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('snapshot_id', sa.String(length=36), nullable=True),
    sa.Column('share_network_id', sa.String(length=36), nullable=True),
    sa.Column('share_group_id', sa.String(length=36), nullable=True),
    sa.Column('source_backup_id', sa.String(length=36), nullable=True),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('mount_point_name', sa.String(length=255), nullable=True),
    sa.Column('encryption_key_ref', sa.String(length=255), nullable=True),
    sa.Column('is_soft_deleted', sa.Boolean(), nullable=False),
    sa.Column('scheduled_to_be_deleted_at', sa.DateTime(), nullable=True),
    sa.Column('driver_path', sa.Text(), nullable=True),
    sa.Column('is_managed', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['share_type_id'], ['share_types.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('shares', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shares_deleted'), ['deleted'], unique=False)
        batch_op.create_index(batch_op.f('ix_shares_project_id'), ['project_id'], unique=False)
        batch_op.create_index('ix_shares_project_listing',
                              ['project_id', 'deleted', 'is_soft_deleted', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_shares_all_listing', ['deleted', 'is_soft_deleted', 'created_at', 'id'],
                              unique=False)


def _share_backups() -> None:
    op.create_table('share_backups',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('share_id', sa.String(length=36), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('topic', sa.String(length=255), nullable=True),
    sa.Column('display_name', sa.String(length=255), nullable=True),
    sa.Column('display_description', sa.String(length=255), nullable=True),
    sa.Column('progress', sa.String(length=32), nullable=True),
    sa.Column('restore_progress', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=255), nullable=False),
    sa.Column('fail_reason', sa.String(length=1023), nullable=True),
    sa.Column('backup_type', sa.String(length=32), nullable=True),
    sa.Column('availability_zone', sa.String(length=255), nullable=True),
    sa.Column('engine_snapshot_id', sa.String(length=64), nullable=True),
    sa.Column('repository', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['share_id'], ['shares.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('share_backups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_share_backups_deleted'), ['deleted'], unique=False)
        batch_op.create_index(batch_op.f('ix_share_backups_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_share_backups_share_id'), ['share_id'], unique=False)
        batch_op.create_index('ix_share_backups_project_listing', ['project_id', 'deleted', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_share_backups_all_listing', ['deleted', 'created_at', 'id'], unique=False)


def _share_export_locations() -> None:
    op.create_table('share_export_locations',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('share_id', sa.String(length=36), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('preferred', sa.Boolean(), nullable=False),
    sa.Column('is_admin_only', sa.Boolean(), nullable=False),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['share_id'], ['shares.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('share_export_locations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_share_export_locations_share_id'), ['share_id'], unique=False)


def _share_snapshots() -> None:
    op.create_table('share_snapshots',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('share_id', sa.String(length=36), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('share_size', sa.Integer(), nullable=False),
    sa.Column('share_proto', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=255), nullable=False),
    sa.Column('progress', sa.String(length=32), nullable=True),
    sa.Column('display_name', sa.String(length=255), nullable=True),
    sa.Column('display_description', sa.String(length=255), nullable=True),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('driver_path', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['share_id'], ['shares.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('share_snapshots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_share_snapshots_deleted'), ['deleted'], unique=False)
        batch_op.create_index(batch_op.f('ix_share_snapshots_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_share_snapshots_share_id'), ['share_id'], unique=False)


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('share_snapshots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_share_snapshots_share_id'))
        batch_op.drop_index(batch_op.f('ix_share_snapshots_project_id'))
        batch_op.drop_index(batch_op.f('ix_share_snapshots_deleted'))

    op.drop_table('share_snapshots')
    with op.batch_alter_table('share_export_locations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_share_export_locations_share_id'))

    op.drop_table('share_export_locations')
    with op.batch_alter_table('share_backups', schema=None) as batch_op:
        batch_op.drop_index('ix_share_backups_all_listing')
        batch_op.drop_index('ix_share_backups_project_listing')
        batch_op.drop_index(batch_op.f('ix_share_backups_share_id'))
        batch_op.drop_index(batch_op.f('ix_share_backups_project_id'))
        batch_op.drop_index(batch_op.f('ix_share_backups_deleted'))

    op.drop_table('share_backups')
    with op.batch_alter_table('shares', schema=None) as batch_op:
        batch_op.drop_index('ix_shares_all_listing')
        batch_op.drop_index('ix_shares_project_listing')
        batch_op.drop_index(batch_op.f('ix_shares_project_id'))
        batch_op.drop_index(batch_op.f('ix_shares_deleted'))

    op.drop_table('shares')
    op.drop_table('share_type_projects')
    op.drop_table('share_type_extra_specs')
    op.drop_table('share_types')
    op.drop_table('quotas')
    op.drop_table('quota_locks')
    op.drop_table('quota_classes')
    op.drop_table('repository_leases')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_project_id'))

    op.drop_table('messages')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_state'))
        batch_op.drop_index(batch_op.f('ix_jobs_resource_id'))
        batch_op.drop_index(batch_op.f('ix_jobs_lease_expires_at'))

    op.drop_table('jobs')
    # ### end Alembic commands ###
