"""Sales at the till: the sale, its lines and its payments; invoices and credit notes with gapless numbers.

A sale is unique per (branch, terminal, client_sale_id), the terminal's own id for it, so that a
sale sent twice (a retry, an offline batch replayed) is recorded once. Money is NUMERIC(12,2).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (JSON, BigInteger, CheckConstraint, Enum, ForeignKey, Index, Integer, Numeric, String,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow

TERMINAL_LENGTH, CLIENT_SALE_ID_LENGTH, REASON_LENGTH, NUMBER_LENGTH = 64, 64, 500, 40


def money():
    return mapped_column(Numeric(12, 2, asdecimal=True))


def _enum(cls, name):
    return Enum(cls, name=name, native_enum=False, length=16, values_callable=lambda kinds: [k.value for k in kinds])


class SaleStatus(str, enum.Enum):
    completed = "completed"
    cancelled = "cancelled"


class PaymentMethod(str, enum.Enum):
    cash = "cash"
    card = "card"
    credits = "credits"


class DocumentKind(str, enum.Enum):
    invoice = "invoice"
    credit_note = "credit_note"


class Sale(Base):
    __tablename__ = "sales"
    __table_args__ = (
        UniqueConstraint("branch_id", "terminal_id", "client_sale_id"),
        # Within half a cent, not equal: SQLite keeps NUMERIC as a binary float (the code adds up in Decimal).
        CheckConstraint("abs(total - (subtotal + tax - discount)) < 0.005", name="total_adds_up"),
        CheckConstraint("discount >= 0 AND total >= 0", name="amounts_not_negative"),
        Index("ix_sales_branch_created", "branch_id", "created_at"),
        Index("ix_sales_branch_cancelled", "branch_id", "cancelled_at"),  # a day's cancellations (reports)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id", ondelete="RESTRICT"))
    terminal_id: Mapped[str] = mapped_column(String(TERMINAL_LENGTH))
    client_sale_id: Mapped[str] = mapped_column(String(CLIENT_SALE_ID_LENGTH))
    fingerprint: Mapped[str] = mapped_column(String(64))  # of the normalised content: the same sale, or another
    seller_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"), index=True)
    status: Mapped[SaleStatus] = mapped_column(_enum(SaleStatus, "sale_status"), default=SaleStatus.completed)
    subtotal: Mapped[Decimal] = money()
    tax: Mapped[Decimal] = money()
    discount: Mapped[Decimal] = money()
    total: Mapped[Decimal] = money()
    paid: Mapped[Decimal] = money()
    change: Mapped[Decimal] = money()  # cash handed back: paid - total
    job_id: Mapped[uuid.UUID | None]  # the job that recorded it (a sale's, or an offline batch's)
    cancel_reason: Mapped[str | None] = mapped_column(String(REASON_LENGTH))
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SaleItem(Base):
    __tablename__ = "sale_items"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id", ondelete="RESTRICT"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    size: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = money()
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4, asdecimal=True))
    net: Mapped[Decimal] = money()
    tax: Mapped[Decimal] = money()
    total: Mapped[Decimal] = money()


class SalePayment(Base):
    __tablename__ = "sale_payments"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id", ondelete="RESTRICT"), index=True)
    method: Mapped[PaymentMethod] = mapped_column(_enum(PaymentMethod, "payment_method"))
    amount: Mapped[Decimal] = money()
    credits: Mapped[int | None] = mapped_column(BigInteger)  # what a `credits` payment took from the wallet
    transfer_ids: Mapped[list | None] = mapped_column(JSON)  # the ledger's transfers of that charge


class Invoice(Base):
    """An invoice, or a credit note for one: a snapshot of who, what and how much, as issued."""

    __tablename__ = "invoices"
    __table_args__ = (UniqueConstraint("sale_id", "kind"), UniqueConstraint("branch_id", "kind", "year", "sequence"),
                      Index("ix_invoices_branch_created", "branch_id", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[DocumentKind] = mapped_column(_enum(DocumentKind, "document_kind"))
    number: Mapped[str] = mapped_column(String(NUMBER_LENGTH), unique=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id", ondelete="RESTRICT"))
    year: Mapped[int] = mapped_column(Integer)
    sequence: Mapped[int] = mapped_column(Integer)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id", ondelete="RESTRICT"))
    credited_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"))
    seller: Mapped[dict] = mapped_column(JSON)
    customer: Mapped[dict | None] = mapped_column(JSON)
    lines: Mapped[list] = mapped_column(JSON)
    tax_summary: Mapped[list] = mapped_column(JSON)
    totals: Mapped[dict] = mapped_column(JSON)
    payments: Mapped[list] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(String(REASON_LENGTH))  # a credit note's
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentCounter(Base):
    """The last number given in one series (branch, kind, year); moved only inside the issuing
    transaction, so a rolled-back sale gives its number back and the series has no gaps."""

    __tablename__ = "document_counters"

    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id", ondelete="RESTRICT"), primary_key=True)
    kind: Mapped[DocumentKind] = mapped_column(_enum(DocumentKind, "counter_kind"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)
