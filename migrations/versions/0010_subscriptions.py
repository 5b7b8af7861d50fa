"""subscriptions: tiers and users' subscriptions; system accounts keep no stored balance

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


# name, credits per month, rollover cap (None: no rollover), price multiplier, requests/min, tokens/min, concurrent
SEED_TIERS = [
    ("free", 100, None, "1.0", 10, 20_000, 1),
    ("basic", 2_000, None, "1.0", 60, 200_000, 4),
    ("premium", 20_000, 10_000, "0.8", 300, 2_000_000, 16),
]


def upgrade() -> None:
    op.create_table('tiers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('credits_per_period', sa.BigInteger(), nullable=False),
    sa.Column('period', sa.Enum('daily', 'weekly', 'monthly', name='tier_period', native_enum=False, length=16), nullable=False),
    sa.Column('rollover', sa.Boolean(), nullable=False),
    sa.Column('rollover_cap', sa.BigInteger(), nullable=True),
    sa.Column('price_multiplier', sa.Numeric(precision=8, scale=4), nullable=False),
    sa.Column('requests_per_minute', sa.Integer(), nullable=True),
    sa.Column('tokens_per_minute', sa.Integer(), nullable=True),
    sa.Column('concurrent_jobs', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('credits_per_period >= 0', name=op.f('ck_tiers_credits_not_negative')),
    sa.CheckConstraint('price_multiplier > 0', name=op.f('ck_tiers_multiplier_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tiers')),
    sa.UniqueConstraint('name', name=op.f('uq_tiers_name'))
    )
    op.create_table('subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('tier_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('active', 'past_due', 'cancelled', name='subscription_status', native_enum=False, length=16), nullable=False),
    sa.Column('anchor_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('period_start', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('period_end', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_tier_id', sa.Integer(), nullable=True),
    sa.Column('period_granted', sa.BigInteger(), nullable=False),
    sa.Column('cancelled_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('period_end > period_start', name=op.f('ck_subscriptions_period_forward')),
    sa.CheckConstraint('period_granted >= 0', name=op.f('ck_subscriptions_period_granted_not_negative')),
    sa.ForeignKeyConstraint(['next_tier_id'], ['tiers.id'], name=op.f('fk_subscriptions_next_tier_id_tiers'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tier_id'], ['tiers.id'], name=op.f('fk_subscriptions_tier_id_tiers'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_subscriptions_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions')),
    sa.UniqueConstraint('user_id', name=op.f('uq_subscriptions_user_id'))
    )
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.create_index('ix_subscriptions_due', ['status', 'period_end'], unique=False)
        batch_op.create_index(batch_op.f('ix_subscriptions_tier_id'), ['tier_id'], unique=False)

    tiers = sa.table('tiers', *(sa.column(name) for name in (
        'name', 'credits_per_period', 'period', 'rollover', 'rollover_cap', 'price_multiplier',
        'requests_per_minute', 'tokens_per_minute', 'concurrent_jobs', 'active', 'created_at')))
    now = models.base.utcnow()
    op.bulk_insert(tiers, [
        dict(name=name, credits_per_period=credits, period='monthly', rollover=cap is not None, rollover_cap=cap,
             price_multiplier=multiplier, requests_per_minute=rpm, tokens_per_minute=tpm, concurrent_jobs=jobs,
             active=True, created_at=now)
        for name, credits, cap, multiplier, rpm, tpm, jobs in SEED_TIERS])
    # System accounts' balances are now their transfers' sums (services/billing/ledger.py): the rows keep none.
    op.execute("UPDATE accounts SET balance = 0, pending = 0 WHERE owner_id IS NULL")



def downgrade() -> None:
    # System accounts get their stored balances back.
    op.execute("""
        UPDATE accounts SET balance = COALESCE((SELECT SUM(amount) FROM transfers
                                                 WHERE credit_account_id = accounts.id AND status = 'posted'), 0)
                                    - COALESCE((SELECT SUM(amount) FROM transfers
                                                 WHERE debit_account_id = accounts.id AND status = 'posted'), 0)
        WHERE owner_id IS NULL""")
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscriptions_tier_id'))
        batch_op.drop_index('ix_subscriptions_due')

    op.drop_table('subscriptions')
    op.drop_table('tiers')
