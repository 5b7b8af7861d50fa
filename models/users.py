"""Users who call the API."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class Role(str, enum.Enum):
    admin = "admin"
    manager = "manager"
    seller = "seller"
    customer = "customer"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(Enum(Role, name="user_role", native_enum=False, length=16))
    # A manager or seller acts only in their own branch (models/sales.py); admins everywhere.
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id", ondelete="RESTRICT"), index=True)
    # Bumped when the user's rights change (role, branch, deletion, logout everywhere, password):
    # access tokens carry it, and a token with an older version is refused at once.
    token_version: Mapped[int] = mapped_column(default=0)
    # Soft deletion: the row stays (jobs and the ledger point at it), its tokens stop working, and
    # its email stays taken.
    deleted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
