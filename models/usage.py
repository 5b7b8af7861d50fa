"""Usage rollups: per user, day (UTC) and model, and per tier and day; and the rollup's watermarks.

A day's rows are rewritten whole (delete and insert in one transaction) by services/usage/rollup.py,
so a day recomputed gives the same rows; readers never look at the ledger or the jobs table.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow

MODEL_LENGTH = 100
# The measures of both rollups, in the order the API and CSV export show them.
MEASURES = ("credits_spent", "credits_charged", "credits_captured", "credits_refunded", "calls", "errors",
            "tokens_in", "tokens_out")


def measure():
    return mapped_column(BigInteger, default=0)


class _Measures:
    # Spent = charged (direct charges) + captured (holds' captures) - refunded (charges given back).
    credits_spent: Mapped[int] = measure()
    credits_charged: Mapped[int] = measure()
    credits_captured: Mapped[int] = measure()
    credits_refunded: Mapped[int] = measure()
    calls: Mapped[int] = measure()  # the user's jobs that finished that day
    errors: Mapped[int] = measure()  # of which failed
    tokens_in: Mapped[int] = measure()
    tokens_out: Mapped[int] = measure()


class UsageDaily(_Measures, Base):
    __tablename__ = "usage_daily"
    __table_args__ = (Index("ix_usage_daily_user_day", "user_id", "day"),)

    day: Mapped[date] = mapped_column(primary_key=True)
    # Not a foreign key: analytics outlive nothing, and a rollup never waits on the users table.
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(MODEL_LENGTH), primary_key=True)  # '' when not an LLM call


class UsageTierDaily(_Measures, Base):
    __tablename__ = "usage_tier_daily"

    day: Mapped[date] = mapped_column(primary_key=True)
    tier: Mapped[str] = mapped_column(String(32), primary_key=True)


class UsageRollupState(Base):
    """One row: how far each source has been rolled up (its watermark), e.g. {"transfers": 1234}."""

    __tablename__ = "usage_rollup_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    marks: Mapped[dict] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
