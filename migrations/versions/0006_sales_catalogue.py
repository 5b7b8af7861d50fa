"""sales catalogue: branches, categories, products, stock, inventory movements; users.branch_id a foreign key

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base
from migrations.sqlite_rebuild import foreign_keys_off

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'branches',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('code', sa.String(length=16), nullable=False),
        sa.Column('address', sa.String(length=500), nullable=True),
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_branches')),
        sa.UniqueConstraint('code', name=op.f('uq_branches_code')),
    )
    op.create_table(
        'categories',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('parent_id', sa.Integer(), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['parent_id'], ['categories.id'], name=op.f('fk_categories_parent_id_categories')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_categories')),
    )
    op.create_index(op.f('ix_categories_parent_id'), 'categories', ['parent_id'], unique=False)
    op.create_table(
        'products',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sku', sa.String(length=64), nullable=False),
        sa.Column('barcode', sa.String(length=64), nullable=True),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('description', sa.String(length=5000), nullable=True),
        sa.Column('category_id', sa.Integer(), nullable=True),
        sa.Column('price', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('cost', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('tax_rate', sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column('has_sizes', sa.Boolean(), nullable=False),
        sa.Column('sizes', sa.JSON(), nullable=False),
        sa.Column('min_stock', sa.Integer(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint('price >= 0', name=op.f('ck_products_price_not_negative')),
        sa.CheckConstraint('cost >= 0', name=op.f('ck_products_cost_not_negative')),
        sa.CheckConstraint('tax_rate >= 0 AND tax_rate <= 1', name=op.f('ck_products_tax_rate_fraction')),
        sa.CheckConstraint('min_stock >= 0', name=op.f('ck_products_min_stock_not_negative')),
        sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_products_category_id_categories'),
                                ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_products')),
        sa.UniqueConstraint('sku', name=op.f('uq_products_sku')),
        sa.UniqueConstraint('barcode', name=op.f('uq_products_barcode')),
    )
    op.create_index(op.f('ix_products_category_id'), 'products', ['category_id'], unique=False)
    op.create_index(op.f('ix_products_name'), 'products', ['name'], unique=False)
    op.create_table(
        'stock',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('branch_id', sa.Integer(), nullable=False),
        sa.Column('size', sa.String(length=16), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('reserved', sa.Integer(), nullable=False),
        sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint('quantity >= 0', name=op.f('ck_stock_quantity_not_negative')),
        sa.CheckConstraint('reserved >= 0 AND reserved <= quantity', name=op.f('ck_stock_reserved_within_quantity')),
        sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name=op.f('fk_stock_branch_id_branches'),
                                ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_stock_product_id_products'),
                                ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stock')),
        sa.UniqueConstraint('product_id', 'branch_id', 'size', name=op.f('uq_stock_product_id_branch_id_size')),
    )
    op.create_index('ix_stock_branch_created', 'stock', ['branch_id', 'created_at'], unique=False)
    op.create_table(
        'inventory_movements',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('branch_id', sa.Integer(), nullable=False),
        sa.Column('size', sa.String(length=16), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('reason', sa.Enum('sale', 'sale_cancelled', 'order_reserved', 'order_released', 'adjustment',
                                    'transfer_in', 'transfer_out', 'import', name='movement_reason',
                                    native_enum=False, length=16), nullable=False),
        sa.Column('reference', sa.String(length=100), nullable=True),
        sa.Column('note', sa.String(length=500), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint('quantity <> 0', name=op.f('ck_inventory_movements_quantity_not_zero')),
        sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name=op.f('fk_inventory_movements_branch_id_branches'),
                                ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'],
                                name=op.f('fk_inventory_movements_product_id_products'), ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_inventory_movements_user_id_users'),
                                ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inventory_movements')),
    )
    op.create_index('ix_inventory_movements_reference', 'inventory_movements', ['reference'], unique=False)
    op.create_index('ix_inventory_movements_row', 'inventory_movements', ['product_id', 'branch_id', 'size'],
                    unique=False)
    _branches_for_existing_users()
    with foreign_keys_off(), op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_branch_id'), ['branch_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_users_branch_id_branches'), 'branches', ['branch_id'], ['id'],
                                    ondelete='RESTRICT')


def _branches_for_existing_users() -> None:
    """Until now a branch was only a number on a user: keep each as a branch of that id (named after
    it, to be renamed), so that the new foreign key holds and no user loses their branch."""
    op.execute("INSERT INTO branches (id, name, code, address, timezone, active, created_at) "
               "SELECT DISTINCT branch_id, 'Branch ' || branch_id, 'B' || branch_id, NULL, 'UTC', true, "
               "CURRENT_TIMESTAMP FROM users WHERE branch_id IS NOT NULL")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SELECT setval(pg_get_serial_sequence('branches', 'id'), "
                   "GREATEST((SELECT max(id) FROM branches), 1), (SELECT count(*) > 0 FROM branches))")


def downgrade() -> None:
    with foreign_keys_off(), op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_users_branch_id_branches'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_users_branch_id'))
    op.drop_index('ix_inventory_movements_row', table_name='inventory_movements')
    op.drop_index('ix_inventory_movements_reference', table_name='inventory_movements')
    op.drop_table('inventory_movements')
    op.drop_index('ix_stock_branch_created', table_name='stock')
    op.drop_table('stock')
    op.drop_index(op.f('ix_products_name'), table_name='products')
    op.drop_index(op.f('ix_products_category_id'), table_name='products')
    op.drop_table('products')
    op.drop_index(op.f('ix_categories_parent_id'), table_name='categories')
    op.drop_table('categories')
    op.drop_table('branches')
