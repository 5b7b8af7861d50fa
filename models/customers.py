"""The shop chain's customers: who bought, for the invoice; an optional user account whose credit wallet pays."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow

EMAIL_LENGTH, PHONE_LENGTH, TAX_ID_LENGTH = 254, 32, 32


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    email: Mapped[str | None] = mapped_column(String(EMAIL_LENGTH), index=True)
    phone: Mapped[str | None] = mapped_column(String(PHONE_LENGTH))
    tax_id: Mapped[str | None] = mapped_column(String(TAX_ID_LENGTH), index=True)
    # A `credits` payment charges this user's wallet.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
