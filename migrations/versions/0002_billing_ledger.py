"""billing ledger

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.Enum('granted', 'purchased', 'system', name='account_kind', native_enum=False, length=16), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=True),
    sa.Column('balance', sa.BigInteger(), nullable=False),
    sa.Column('pending', sa.BigInteger(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('owner_id IS NULL OR balance - pending >= 0', name=op.f('ck_accounts_user_not_overdrawn')),
    sa.CheckConstraint('pending >= 0', name=op.f('ck_accounts_pending_not_negative')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_accounts_owner_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('name', name=op.f('uq_accounts_name')),
    sa.UniqueConstraint('owner_id', 'kind', name=op.f('uq_accounts_owner_id_kind'))
    )
    op.create_table('ledger_operations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.Enum('bonus', 'topup', 'charge', 'refund', 'hold', 'adjustment', 'grant', 'expiry', name='operation_kind', native_enum=False, length=16), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('job_id', sa.Uuid(), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('result', models.base.JSONType, nullable=False),
    sa.Column('state', sa.Enum('open', 'captured', 'voided', name='hold_state', native_enum=False, length=16), nullable=True),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_ledger_operations_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_operations')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_ledger_operations_idempotency_key'))
    )
    with op.batch_alter_table('ledger_operations', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_operations_open_holds', ['state', 'expires_at'], unique=False)

    op.create_table('transfers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('debit_account_id', sa.Integer(), nullable=False),
    sa.Column('credit_account_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.Enum('bonus', 'topup', 'charge', 'refund', 'hold', 'adjustment', 'grant', 'expiry', name='transfer_kind', native_enum=False, length=16), nullable=False),
    sa.Column('status', sa.Enum('posted', 'pending', 'voided', name='transfer_status', native_enum=False, length=16), nullable=False),
    sa.Column('operation_id', sa.Uuid(), nullable=False),
    sa.Column('job_id', sa.Uuid(), nullable=True),
    sa.Column('reference_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('idempotency_key', sa.String(length=300), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_transfers_amount_positive')),
    sa.CheckConstraint('debit_account_id <> credit_account_id', name=op.f('ck_transfers_two_accounts')),
    sa.ForeignKeyConstraint(['credit_account_id'], ['accounts.id'], name=op.f('fk_transfers_credit_account_id_accounts')),
    sa.ForeignKeyConstraint(['debit_account_id'], ['accounts.id'], name=op.f('fk_transfers_debit_account_id_accounts')),
    sa.ForeignKeyConstraint(['operation_id'], ['ledger_operations.id'], name=op.f('fk_transfers_operation_id_ledger_operations')),
    sa.ForeignKeyConstraint(['reference_id'], ['transfers.id'], name=op.f('fk_transfers_reference_id_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfers')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_transfers_idempotency_key'))
    )
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.create_index('ix_transfers_credit_created', ['credit_account_id', 'created_at'], unique=False)
        batch_op.create_index('ix_transfers_debit_created', ['debit_account_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_transfers_operation_id'), ['operation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_transfers_reference_id'), ['reference_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transfers_reference_id'))
        batch_op.drop_index(batch_op.f('ix_transfers_operation_id'))
        batch_op.drop_index('ix_transfers_debit_created')
        batch_op.drop_index('ix_transfers_credit_created')

    op.drop_table('transfers')
    with op.batch_alter_table('ledger_operations', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_operations_open_holds')

    op.drop_table('ledger_operations')
    op.drop_table('accounts')
