"""Tiers and users' subscriptions to them: what each period grants, and the limits a tier sets."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Enum, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class Period(str, enum.Enum):
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"


class SubscriptionStatus(str, enum.Enum):
    active = "active"
    past_due = "past_due"
    cancelled = "cancelled"


class Tier(Base):
    """Admin-managed; seeded with `free`, `basic` and `premium` (migration 0010)."""

    __tablename__ = "tiers"
    __table_args__ = (
        CheckConstraint("credits_per_period >= 0", name="credits_not_negative"),
        CheckConstraint("price_multiplier > 0", name="multiplier_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    credits_per_period: Mapped[int] = mapped_column(BigInteger)
    period: Mapped[Period] = mapped_column(Enum(Period, name="tier_period", native_enum=False, length=16))
    # Unused granted credits carried into the next period, up to the cap (None: no cap).
    rollover: Mapped[bool] = mapped_column(default=False)
    rollover_cap: Mapped[int | None] = mapped_column(BigInteger)
    # Applied to LLM token costs: a premium tier may pay less per token than a free one.
    price_multiplier: Mapped[Decimal] = mapped_column(Numeric(8, 4), default=Decimal(1))
    # Limits the rate limiter reads (None: unlimited).
    requests_per_minute: Mapped[int | None]
    tokens_per_minute: Mapped[int | None]
    concurrent_jobs: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Subscription(Base):
    """A user's tier (every user has one, `free` at registration) and the period it is in (UTC)."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint("period_end > period_start", name="period_forward"),
        CheckConstraint("period_granted >= 0", name="period_granted_not_negative"),
        Index("ix_subscriptions_due", "status", "period_end"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), unique=True)
    tier_id: Mapped[int] = mapped_column(ForeignKey("tiers.id", ondelete="RESTRICT"), index=True)
    status: Mapped[SubscriptionStatus] = mapped_column(
        Enum(SubscriptionStatus, name="subscription_status", native_enum=False, length=16))
    # The moment the subscription started: every period boundary derives from it.
    anchor_at: Mapped[datetime]
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    # A downgrade waits for the next period.
    next_tier_id: Mapped[int | None] = mapped_column(ForeignKey("tiers.id", ondelete="RESTRICT"))
    # Credits granted for the current period (its refresh's grant plus any upgrade's): what may expire at its end.
    period_granted: Mapped[int] = mapped_column(BigInteger, default=0)
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
