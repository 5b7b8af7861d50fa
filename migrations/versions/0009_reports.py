"""reports: daily summaries per branch and local day, low-stock events, sales' cancellations by branch and time,
invoices' PDFs

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('daily_summaries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('sales_count', sa.Integer(), nullable=False),
    sa.Column('subtotal', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('tax', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('discount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('total', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('cancelled_count', sa.Integer(), nullable=False),
    sa.Column('cancelled_total', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('by_payment', sa.JSON(), nullable=False),
    sa.Column('top_products', sa.JSON(), nullable=False),
    sa.Column('computed_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name=op.f('fk_daily_summaries_branch_id_branches'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_daily_summaries')),
    sa.UniqueConstraint('branch_id', 'day', name=op.f('uq_daily_summaries_branch_id_day'))
    )
    op.create_table('low_stock_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('size', sa.String(length=16), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('min_stock', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name=op.f('fk_low_stock_events_branch_id_branches'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_low_stock_events_product_id_products'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_low_stock_events'))
    )
    op.create_index('uq_low_stock_events_open', 'low_stock_events', ['product_id', 'branch_id', 'size'], unique=True,
                    postgresql_where=sa.text('resolved_at IS NULL'), sqlite_where=sa.text('resolved_at IS NULL'))
    op.create_index('ix_low_stock_events_branch_created', 'low_stock_events', ['branch_id', 'created_at'], unique=False)
    op.create_index('ix_sales_branch_cancelled', 'sales', ['branch_id', 'cancelled_at'], unique=False)
    op.create_table('invoice_pdfs',
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_pdfs_invoice_id_invoices'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('invoice_id', name=op.f('pk_invoice_pdfs'))
    )


def downgrade() -> None:
    op.drop_table('invoice_pdfs')
    op.drop_index('ix_sales_branch_cancelled', table_name='sales')
    op.drop_index('ix_low_stock_events_branch_created', table_name='low_stock_events')
    op.drop_index('uq_low_stock_events_open', table_name='low_stock_events')
    op.drop_table('low_stock_events')
    op.drop_table('daily_summaries')
