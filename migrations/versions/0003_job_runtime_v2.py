"""job runtime v2: system jobs, children, checkpoints, deadlines

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base
from migrations.sqlite_rebuild import foreign_keys_off

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # On SQLite the rebuild of `jobs` must keep the job events that reference it.
    with foreign_keys_off(), op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.alter_column('owner_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('parent_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('checkpoint', models.base.JSONType, nullable=True))
        batch_op.add_column(sa.Column('deadline_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_jobs_parent_id_jobs'), 'jobs', ['parent_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_jobs_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index('uq_jobs_system_idempotency_key', ['idempotency_key'], unique=True,
                              postgresql_where=sa.text('owner_id IS NULL'),
                              sqlite_where=sa.text('owner_id IS NULL'))


def downgrade() -> None:
    with foreign_keys_off(), op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('uq_jobs_system_idempotency_key')
        batch_op.drop_index(batch_op.f('ix_jobs_parent_id'))
        batch_op.drop_constraint(batch_op.f('fk_jobs_parent_id_jobs'), type_='foreignkey')
        batch_op.drop_column('deadline_at')
        batch_op.drop_column('checkpoint')
        batch_op.drop_column('parent_id')
        batch_op.alter_column('owner_id', existing_type=sa.Integer(), nullable=False)
