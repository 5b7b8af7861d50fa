"""What reports keep: one daily summary per (branch, local day), low-stock crossings, invoices' PDFs.

A summary is written whole by one upsert keyed (branch, day), so a re-run replaces it with the same
figures; the unique key is also the index that `GET /api/v1/reports/daily` reads ranges through.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, Numeric, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow
from models.sales import SIZE_LENGTH, TIMEZONE_LENGTH


def amount():
    # Wider than a sale's NUMERIC(12,2): a day adds many sales up.
    return mapped_column(Numeric(16, 2, asdecimal=True))


class DailySummary(Base):
    """A branch's day in its own time zone: sales made that day (cancelled later or not), and the
    cancellations made that day (of sales of any day), as a credit note counts on its own date."""

    __tablename__ = "daily_summaries"
    __table_args__ = (UniqueConstraint("branch_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id", ondelete="RESTRICT"))
    day: Mapped[date]
    timezone: Mapped[str] = mapped_column(String(TIMEZONE_LENGTH))  # the branch's when the day was summed
    sales_count: Mapped[int] = mapped_column(Integer)
    subtotal: Mapped[Decimal] = amount()
    tax: Mapped[Decimal] = amount()
    discount: Mapped[Decimal] = amount()
    total: Mapped[Decimal] = amount()
    cancelled_count: Mapped[int] = mapped_column(Integer)
    cancelled_total: Mapped[Decimal] = amount()
    # What each method took ({"cash": "12.50", "card": ..., "credits": ...}), cash net of change: they add up to total.
    by_payment: Mapped[dict] = mapped_column(JSON)
    top_products: Mapped[list] = mapped_column(JSON)  # [{"product_id", "sku", "name", "quantity", "total"}]
    computed_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class InvoicePdf(Base):
    """An invoice's PDF, rendered once: an invoice never changes, so neither does its PDF. In the
    database rather than on a disk, so that every web process, on any host, serves the same file."""

    __tablename__ = "invoice_pdfs"

    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"), primary_key=True)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LowStockEvent(Base):
    """A stock row's fall to or below its product's minimum, recorded once per crossing: open until the
    row rises above the minimum again (resolved), after which the next fall is a new event."""

    __tablename__ = "low_stock_events"
    __table_args__ = (
        # One open event a row: a second beat's insert of the same crossing does nothing.
        Index("uq_low_stock_events_open", "product_id", "branch_id", "size", unique=True,
              postgresql_where=text("resolved_at IS NULL"), sqlite_where=text("resolved_at IS NULL")),
        Index("ix_low_stock_events_branch_created", "branch_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id", ondelete="RESTRICT"))
    size: Mapped[str] = mapped_column(String(SIZE_LENGTH))
    quantity: Mapped[int] = mapped_column(Integer)  # when the crossing was seen
    min_stock: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
