"""backup policies: schedules, attached shares and run history; share backups name their policy run

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 04:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    _backup_policies()
    _backup_policy_shares()
    _backup_policy_runs()
    _share_backups_policy_columns()


def _backup_policies() -> None:
    op.create_table('backup_policies',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('schedule', sa.String(length=255), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('backup_type', sa.String(length=32), nullable=True),
    sa.Column('retention', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('backup_policies', schema=None) as batch_op:
        batch_op.create_index('ix_backup_policies_listing', ['project_id', 'created_at', 'id'], unique=False)


def _backup_policy_shares() -> None:
    op.create_table('backup_policy_shares',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('policy_id', sa.String(length=36), nullable=False),
    sa.Column('share_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_scheduled_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['policy_id'], ['backup_policies.id'], ),
    sa.ForeignKeyConstraint(['share_id'], ['shares.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('policy_id', 'share_id')
    )
    with op.batch_alter_table('backup_policy_shares', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_backup_policy_shares_share_id'), ['share_id'], unique=False)


def _backup_policy_runs() -> None:
    op.create_table('backup_policy_runs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('policy_id', sa.String(length=36), nullable=False),
    sa.Column('share_id', sa.String(length=36), nullable=False),
    sa.Column('scheduled_at', sa.DateTime(), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=1023), nullable=True),
    sa.Column('backup_id', sa.String(length=36), nullable=True),
    sa.Column('pruned_backup_ids', sa.JSON(), nullable=False),
    sa.Column('retention_done', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['policy_id'], ['backup_policies.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('policy_id', 'share_id', 'scheduled_at', name='uq_backup_policy_runs_slot')
    )
    with op.batch_alter_table('backup_policy_runs', schema=None) as batch_op:
        batch_op.create_index('ix_backup_policy_runs_history', ['policy_id', 'scheduled_at', 'id'], unique=False)
        # every scheduler tick asks for the runs retention has not looked at: few among many
        batch_op.create_index(batch_op.f('ix_backup_policy_runs_retention_done'), ['retention_done'], unique=False)


def _share_backups_policy_columns() -> None:
    with op.batch_alter_table('share_backups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('policy_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('policy_run_id', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_share_backups_policy_id'), ['policy_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('share_backups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_share_backups_policy_id'))
        batch_op.drop_column('policy_run_id')
        batch_op.drop_column('policy_id')
    op.drop_table('backup_policy_runs')
    op.drop_table('backup_policy_shares')
    op.drop_table('backup_policies')
