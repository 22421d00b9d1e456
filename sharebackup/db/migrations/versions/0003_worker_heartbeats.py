"""worker heartbeats: which worker processes are alive (the console's workers list); the last
check of each repository

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 05:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('worker_heartbeats',
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('threads', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('seen_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    with op.batch_alter_table('repository_leases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_check_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_check_result', sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('repository_leases', schema=None) as batch_op:
        batch_op.drop_column('last_check_result')
        batch_op.drop_column('last_check_at')
    op.drop_table('worker_heartbeats')
