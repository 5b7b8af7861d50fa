"""The credit ledger: accounts, the transfers between them, and the operations that group transfers.

Double entry: a transfer moves a positive amount from its debit account to its credit account, so
all balances always sum to zero (system accounts' balances are their transfers' sums, not stored). Users' accounts may never go below zero (holds included);
system accounts (bonuses, payments, revenue, ...) may.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Enum, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class AccountKind(str, enum.Enum):
    granted = "granted"  # subscription and promotional credits; a refresh may expire them
    purchased = "purchased"  # paid credits; never expire
    system = "system"


class TransferKind(str, enum.Enum):
    bonus = "bonus"
    topup = "topup"
    charge = "charge"
    refund = "refund"
    hold = "hold"
    adjustment = "adjustment"
    grant = "grant"
    expiry = "expiry"


class TransferStatus(str, enum.Enum):
    posted = "posted"
    pending = "pending"  # a hold's reservation, not yet captured or voided
    voided = "voided"


class HoldState(str, enum.Enum):
    open = "open"
    captured = "captured"
    voided = "voided"


def _enum(cls, name):
    return Enum(cls, name=name, native_enum=False, length=16)


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("owner_id", "kind"),
        # The last line of defence; the conditional UPDATEs in services/billing/ledger.py keep it from firing.
        CheckConstraint("owner_id IS NULL OR balance - pending >= 0", name="user_not_overdrawn"),
        CheckConstraint("pending >= 0", name="pending_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    kind: Mapped[AccountKind] = mapped_column(_enum(AccountKind, "account_kind"))
    # System accounts are known by name: "bonus", "payments", "revenue", "adjustments", ...
    name: Mapped[str | None] = mapped_column(String(32), unique=True)
    # Users' accounts only: a system account's balance is the sum of its transfers (services/billing/ledger.py).
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    pending: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerOperation(Base):
    """One business operation (a charge, a top-up, a hold, ...): its idempotency and its outcome."""

    __tablename__ = "ledger_operations"
    __table_args__ = (Index("ix_ledger_operations_open_holds", "state", "expires_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[TransferKind] = mapped_column(_enum(TransferKind, "operation_kind"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    job_id: Mapped[uuid.UUID | None]  # not a foreign key: jobs are cleaned up, the ledger is forever
    amount: Mapped[int] = mapped_column(BigInteger)
    result: Mapped[dict] = mapped_column(default=dict)
    # Holds only: open until captured or voided, once; voided by beat after expires_at.
    state: Mapped[HoldState | None] = mapped_column(_enum(HoldState, "hold_state"))
    expires_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Transfer(Base):
    """Immutable, but for a hold's reservation, which leaves `pending` once, for `voided`."""

    __tablename__ = "transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="two_accounts"),
        Index("ix_transfers_debit_created", "debit_account_id", "created_at"),
        Index("ix_transfers_credit_created", "credit_account_id", "created_at"),
    )

    # SQLite numbers rows only for INTEGER PRIMARY KEY columns.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[TransferKind] = mapped_column(_enum(TransferKind, "transfer_kind"))
    status: Mapped[TransferStatus] = mapped_column(_enum(TransferStatus, "transfer_status"))
    operation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_operations.id"), index=True)
    job_id: Mapped[uuid.UUID | None]
    # The hold leg a charge captures, or the charge a refund returns.
    reference_id: Mapped[int | None] = mapped_column(ForeignKey("transfers.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    description: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
