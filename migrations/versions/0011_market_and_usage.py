"""market and usage: products, purchases, refused payment events; usage rollups per user and per tier and day

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


MEASURES = ('credits_spent', 'credits_charged', 'credits_captured', 'credits_refunded', 'calls', 'errors',
            'tokens_in', 'tokens_out')


def _measures() -> list[sa.Column]:
    """Both rollups' measure columns (models/usage.py)."""
    return [sa.Column(name, sa.BigInteger(), nullable=False) for name in MEASURES]


def upgrade() -> None:
    op.create_table('usage_daily',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=False),
    *_measures(),
    sa.PrimaryKeyConstraint('day', 'user_id', 'model', name=op.f('pk_usage_daily'))
    )
    with op.batch_alter_table('usage_daily', schema=None) as batch_op:
        batch_op.create_index('ix_usage_daily_user_day', ['user_id', 'day'], unique=False)

    op.create_table('usage_rollup_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('marks', models.base.JSONType, nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_rollup_state'))
    )
    op.create_table('usage_tier_daily',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('tier', sa.String(length=32), nullable=False),
    *_measures(),
    sa.PrimaryKeyConstraint('day', 'tier', name=op.f('pk_usage_tier_daily'))
    )
    op.create_table('market_products',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('pack', 'tier', name='product_kind', native_enum=False, length=16), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('credits', sa.BigInteger(), nullable=True),
    sa.Column('tier_id', sa.Integer(), nullable=True),
    sa.Column('price', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'pack' AND credits > 0 AND tier_id IS NULL) OR (kind = 'tier' AND credits IS NULL AND tier_id IS NOT NULL)", name=op.f('ck_market_products_kind_fields')),
    sa.CheckConstraint('price >= 0', name=op.f('ck_market_products_price_not_negative')),
    sa.ForeignKeyConstraint(['tier_id'], ['tiers.id'], name=op.f('fk_market_products_tier_id_tiers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_market_products'))
    )
    op.create_table('purchases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('pack', 'tier', name='purchase_kind', native_enum=False, length=16), nullable=False),
    sa.Column('status', sa.Enum('pending', 'completed', 'failed', 'refunded', name='purchase_status', native_enum=False, length=16), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('credits', sa.BigInteger(), nullable=True),
    sa.Column('tier_id', sa.Integer(), nullable=True),
    sa.Column('paid_event_id', sa.String(length=200), nullable=True),
    sa.Column('failed_event_id', sa.String(length=200), nullable=True),
    sa.Column('refunded_event_id', sa.String(length=200), nullable=True),
    sa.Column('refund_taken', sa.BigInteger(), nullable=True),
    sa.Column('refund_not_taken', sa.BigInteger(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('failed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('refunded_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['product_id'], ['market_products.id'], name=op.f('fk_purchases_product_id_market_products'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tier_id'], ['tiers.id'], name=op.f('fk_purchases_tier_id_tiers'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_purchases_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_purchases'))
    )
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_purchases_product_id'), ['product_id'], unique=False)
        batch_op.create_index('ix_purchases_user_created', ['user_id', 'created_at'], unique=False)

    op.create_table('refused_payment_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=200), nullable=False),
    sa.Column('purchase_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('details', models.base.JSONType, nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['purchase_id'], ['purchases.id'], name=op.f('fk_refused_payment_events_purchase_id_purchases'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refused_payment_events')),
    sa.UniqueConstraint('event_id', name=op.f('uq_refused_payment_events_event_id'))
    )
    with op.batch_alter_table('refused_payment_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refused_payment_events_purchase_id'), ['purchase_id'], unique=False)

    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_finished_at', ['finished_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_finished_at')

    with op.batch_alter_table('refused_payment_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refused_payment_events_purchase_id'))

    op.drop_table('refused_payment_events')
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.drop_index('ix_purchases_user_created')
        batch_op.drop_index(batch_op.f('ix_purchases_product_id'))

    op.drop_table('purchases')
    op.drop_table('market_products')
    op.drop_table('usage_tier_daily')
    op.drop_table('usage_rollup_state')
    with op.batch_alter_table('usage_daily', schema=None) as batch_op:
        batch_op.drop_index('ix_usage_daily_user_day')

    op.drop_table('usage_daily')
