"""Orders: sales agreed before they are paid (web, phone, chat). A pending order holds a reservation
on its stock rows (stock.reserved), which its confirmation turns into the sale's decrement and its
cancellation or expiry releases.

A reservation moves `stock.reserved`, never `stock.quantity`, so it writes no inventory movement
(movements add up to the quantity); the pending orders' lines are its record instead, and the stock
reconciliation checks that every row's `reserved` equals them (services/sales/reconcile.py).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow
from models.sales import SIZE_LENGTH

CLIENT_ORDER_ID_LENGTH = 64


class OrderStatus(str, enum.Enum):
    pending = "pending"
    confirmed = "confirmed"
    cancelled = "cancelled"
    expired = "expired"


class OrderChannel(str, enum.Enum):
    web = "web"
    phone = "phone"
    chat = "chat"


def _enum(cls, name):
    return Enum(cls, name=name, native_enum=False, length=16, values_callable=lambda kinds: [k.value for k in kinds])


def money():
    return mapped_column(Numeric(12, 2, asdecimal=True))


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("branch_id", "client_order_id"),
        CheckConstraint("discount >= 0 AND total >= 0", name="amounts_not_negative"),
        Index("ix_orders_status_created", "status", "created_at"),  # beat's expiry scan
        Index("ix_orders_branch_created", "branch_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id", ondelete="RESTRICT"))
    channel: Mapped[OrderChannel] = mapped_column(_enum(OrderChannel, "order_channel"))
    client_order_id: Mapped[str] = mapped_column(String(CLIENT_ORDER_ID_LENGTH))
    fingerprint: Mapped[str] = mapped_column(String(64))  # of the normalised content: the same order, or another
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"), index=True)
    # Who agreed the prices: the sale's seller when the order is confirmed.
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    status: Mapped[OrderStatus] = mapped_column(_enum(OrderStatus, "order_status"), default=OrderStatus.pending)
    subtotal: Mapped[Decimal] = money()
    tax: Mapped[Decimal] = money()
    discount: Mapped[Decimal] = money()
    total: Mapped[Decimal] = money()
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("sales.id", ondelete="RESTRICT"))
    job_id: Mapped[uuid.UUID | None]  # the job that created it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]  # confirmed, cancelled or expired


class OrderItem(Base):
    __tablename__ = "order_items"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    size: Mapped[str] = mapped_column(String(SIZE_LENGTH))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = money()  # as agreed: what the sale charges
