"""Users' API keys: long-lived bearer credentials for programs, stored as a digest only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class ApiKey(Base):
    """A key acts as its user (their role and branch as they are now) until revoked or the user is deleted."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # The key's first characters, shown in lists so that a user can tell their keys apart.
    prefix: Mapped[str] = mapped_column(String(16))
    # sha256 (hex) of the whole key: the key itself is shown once and never stored.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
