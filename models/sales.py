"""The shop chain's catalogue and stock: branches, categories, products, stock rows, inventory movements.

A stock row is one (product, branch, size); "no size" is the empty string, not NULL, so that the
unique constraint holds on PostgreSQL and SQLite alike (both treat NULLs as distinct in a unique
constraint). Its quantity moves only together with an append-only movement, so a row always equals
the sum of its movements (services/sales/reconcile.py checks it).
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (JSON, BigInteger, CheckConstraint, Enum, ForeignKey, Index, Integer, Numeric, String,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow

NO_SIZE = ""
# Column limits the schemas validate against.
NAME_LENGTH, CODE_LENGTH, ADDRESS_LENGTH, TIMEZONE_LENGTH = 200, 16, 500, 64
SKU_LENGTH, BARCODE_LENGTH, DESCRIPTION_LENGTH, SIZE_LENGTH = 64, 64, 5000, 16
REFERENCE_LENGTH, NOTE_LENGTH = 100, 500


class MovementReason(str, enum.Enum):
    sale = "sale"
    sale_cancelled = "sale_cancelled"
    order_reserved = "order_reserved"
    order_released = "order_released"
    adjustment = "adjustment"
    transfer_in = "transfer_in"
    transfer_out = "transfer_out"
    import_ = "import"


class Branch(Base):
    __tablename__ = "branches"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    code: Mapped[str] = mapped_column(String(CODE_LENGTH), unique=True)
    address: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH))
    timezone: Mapped[str] = mapped_column(String(TIMEZONE_LENGTH), default="UTC")  # an IANA name
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Category(Base):
    """One level of nesting: a category with a parent has no children (services/sales/catalogue.py)."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    # NO ACTION, not RESTRICT: checked at the statement's end, so one DELETE may remove a parent and its children.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("cost >= 0", name="cost_not_negative"),
        CheckConstraint("tax_rate >= 0 AND tax_rate <= 1", name="tax_rate_fraction"),
        CheckConstraint("min_stock >= 0", name="min_stock_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(SKU_LENGTH), unique=True)
    barcode: Mapped[str | None] = mapped_column(String(BARCODE_LENGTH), unique=True)  # NULLs never collide
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), index=True)
    description: Mapped[str | None] = mapped_column(String(DESCRIPTION_LENGTH))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"), index=True)
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2, asdecimal=True))
    cost: Mapped[Decimal] = mapped_column(Numeric(12, 2, asdecimal=True), default=Decimal("0.00"))
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4, asdecimal=True), default=Decimal("0"))
    has_sizes: Mapped[bool] = mapped_column(default=False)
    sizes: Mapped[list] = mapped_column(JSON, default=list)
    min_stock: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Stock(Base):
    __tablename__ = "stock"
    __table_args__ = (
        UniqueConstraint("product_id", "branch_id", "size"),
        # The last line of defence; the conditional UPDATEs in services/sales/stock.py keep it from firing.
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        CheckConstraint("reserved >= 0 AND reserved <= quantity", name="reserved_within_quantity"),
        Index("ix_stock_branch_created", "branch_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id", ondelete="RESTRICT"))
    size: Mapped[str] = mapped_column(String(SIZE_LENGTH), default=NO_SIZE)  # "" when the product has no sizes
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class InventoryMovement(Base):
    """Append-only: nothing updates or deletes a movement."""

    __tablename__ = "inventory_movements"
    __table_args__ = (
        CheckConstraint("quantity <> 0", name="quantity_not_zero"),
        Index("ix_inventory_movements_row", "product_id", "branch_id", "size"),
        Index("ix_inventory_movements_reference", "reference"),
    )

    # SQLite numbers rows only for INTEGER PRIMARY KEY columns.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id", ondelete="RESTRICT"))
    size: Mapped[str] = mapped_column(String(SIZE_LENGTH), default=NO_SIZE)
    quantity: Mapped[int] = mapped_column(Integer)  # signed
    reason: Mapped[MovementReason] = mapped_column(
        Enum(MovementReason, name="movement_reason", native_enum=False, length=16,
             values_callable=lambda kinds: [k.value for k in kinds]))
    reference: Mapped[str | None] = mapped_column(String(REFERENCE_LENGTH))  # "adjustment:<job id>", "sale:<id>", ...
    note: Mapped[str | None] = mapped_column(String(NOTE_LENGTH))  # an adjustment's reason
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
