"""exports: files of the catalogue, the stock or the sales, made by a job and kept until they expire

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('exports',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('products', 'stock', 'sales', name='export_kind', native_enum=False, length=16), nullable=False),
    sa.Column('format', sa.Enum('csv', 'xlsx', name='export_format', native_enum=False, length=16), nullable=False),
    sa.Column('filters', models.base.JSONType, nullable=False),
    sa.Column('status', sa.Enum('pending', 'ready', 'expired', name='export_status', native_enum=False, length=16), nullable=False),
    sa.Column('filename', sa.String(length=100), nullable=False),
    sa.Column('storage_key', sa.String(length=255), nullable=True),
    sa.Column('rows', sa.BigInteger(), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_exports_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exports'))
    )
    op.create_index('ix_exports_owner_created', 'exports', ['owner_id', 'created_at'], unique=False)
    op.create_index('ix_exports_status_expires', 'exports', ['status', 'expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_exports_status_expires', table_name='exports')
    op.drop_index('ix_exports_owner_created', table_name='exports')
    op.drop_table('exports')
