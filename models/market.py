"""The market: what users can buy (credit packs, tier subscriptions) and their purchases of it.

A purchase copies its product's price, currency and credits (or tier) when it is made, so that an
admin's later change to the product never changes what a user owes or gets.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Enum, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow

EVENT_ID_LENGTH = 200  # a payment provider's event id (schemas/billing.py PaymentEventSchema)


class ProductKind(str, enum.Enum):
    pack = "pack"  # credits for a price
    tier = "tier"  # a tier for a price per period


class PurchaseStatus(str, enum.Enum):
    pending = "pending"
    completed = "completed"
    failed = "failed"
    refunded = "refunded"


def _enum(cls, name):
    return Enum(cls, name=name, native_enum=False, length=16)


def price():
    return mapped_column(Numeric(12, 2, asdecimal=True))


class MarketProduct(Base):
    __tablename__ = "market_products"
    __table_args__ = (
        CheckConstraint("(kind = 'pack' AND credits > 0 AND tier_id IS NULL)"
                        " OR (kind = 'tier' AND credits IS NULL AND tier_id IS NOT NULL)", name="kind_fields"),
        CheckConstraint("price >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ProductKind] = mapped_column(_enum(ProductKind, "product_kind"))
    name: Mapped[str] = mapped_column(String(100))
    credits: Mapped[int | None] = mapped_column(BigInteger)  # packs
    tier_id: Mapped[int | None] = mapped_column(ForeignKey("tiers.id", ondelete="RESTRICT"))  # tiers, per period
    price: Mapped[Decimal] = price()
    currency: Mapped[str] = mapped_column(String(3))  # ISO 4217
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Purchase(Base):
    """A user's purchase: pending until the provider's signed event completes or fails it, once."""

    __tablename__ = "purchases"
    __table_args__ = (Index("ix_purchases_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    product_id: Mapped[int] = mapped_column(ForeignKey("market_products.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[ProductKind] = mapped_column(_enum(ProductKind, "purchase_kind"))
    status: Mapped[PurchaseStatus] = mapped_column(_enum(PurchaseStatus, "purchase_status"),
                                                   default=PurchaseStatus.pending)
    amount: Mapped[Decimal] = price()
    currency: Mapped[str] = mapped_column(String(3))
    credits: Mapped[int | None] = mapped_column(BigInteger)
    tier_id: Mapped[int | None] = mapped_column(ForeignKey("tiers.id", ondelete="RESTRICT"))
    # The provider's events that completed, failed and refunded it.
    paid_event_id: Mapped[str | None] = mapped_column(String(EVENT_ID_LENGTH))
    failed_event_id: Mapped[str | None] = mapped_column(String(EVENT_ID_LENGTH))
    refunded_event_id: Mapped[str | None] = mapped_column(String(EVENT_ID_LENGTH))
    # A refunded pack: the credits taken back, and those already spent that could not be.
    refund_taken: Mapped[int | None] = mapped_column(BigInteger)
    refund_not_taken: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    refunded_at: Mapped[datetime | None]


class RefusedPaymentEvent(Base):
    """A signed payment event we refused (its amount or currency did not match its purchase): kept for
    the people who reconcile with the provider."""

    __tablename__ = "refused_payment_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(EVENT_ID_LENGTH), unique=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id", ondelete="RESTRICT"), index=True)
    type: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
