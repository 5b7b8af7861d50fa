"""Daily summaries: a branch's local day summed from its sales, written by one idempotent upsert.

Sums are taken in Decimal in Python, not in SQL: SQLite keeps NUMERIC as a binary float, and a
day's rows are few enough to read. A day holds the sales made that day (cancelled later or not) and
the cancellations made that day, as a credit note counts on its own date; so a later cancellation
never rewrites a closed day.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from models import Branch, DailySummary, PaymentMethod, Sale, SaleItem, SalePayment
from models.base import utcnow
from services.reports.days import bounds, today
from services.sales.catalogue import get

CENT = Decimal("0.01")
TOP_PRODUCTS = 10
FIGURES = ("sales_count", "subtotal", "tax", "discount", "total", "cancelled_count", "cancelled_total",
           "by_payment", "top_products")


def figures(session: Session, branch: Branch, day: date, *, until: datetime | None = None) -> dict:
    """The branch's `day` (up to `until` when given: today so far), every amount a 2-place Decimal string."""
    start, end = bounds(day, branch.timezone)
    if until is not None:
        end = min(end, until)
    made = (Sale.branch_id == branch.id, Sale.created_at >= start, Sale.created_at < end)
    sales = session.execute(select(Sale.subtotal, Sale.tax, Sale.discount, Sale.total, Sale.change)
                            .where(*made)).all()
    cancelled = session.scalars(select(Sale.total).where(Sale.branch_id == branch.id, Sale.cancelled_at >= start,
                                                         Sale.cancelled_at < end)).all()
    by_payment = {method.value: Decimal(0) for method in PaymentMethod}
    for method, amount in session.execute(select(SalePayment.method, SalePayment.amount)
                                          .join(Sale, Sale.id == SalePayment.sale_id).where(*made)):
        by_payment[method.value] += _dec(amount)
    # Cash handed back is not cash taken: the methods then add up to the total.
    by_payment[PaymentMethod.cash.value] -= sum((_dec(s.change) for s in sales), Decimal(0))
    return {"sales_count": len(sales),
            **{name: amount_text(sum((_dec(getattr(s, name)) for s in sales), Decimal(0)))
               for name in ("subtotal", "tax", "discount", "total")},
            "cancelled_count": len(cancelled), "cancelled_total": amount_text(sum(map(_dec, cancelled), Decimal(0))),
            "by_payment": {method: amount_text(amount) for method, amount in by_payment.items()},
            "top_products": top_products(session, made)}


def top_products(session: Session, made) -> list[dict]:
    """The products sold most (by quantity) among the sales matching `made`, with their line totals."""
    products: dict[int, dict] = {}
    for item in session.execute(select(SaleItem.product_id, SaleItem.sku, SaleItem.name, SaleItem.quantity,
                                       SaleItem.total).join(Sale, Sale.id == SaleItem.sale_id).where(*made)):
        row = products.setdefault(item.product_id, {"product_id": item.product_id, "sku": item.sku,
                                                    "name": item.name, "quantity": 0, "total": Decimal(0)})
        row["quantity"] += item.quantity
        row["total"] += _dec(item.total)
    return merge_top([products.values()])


def merge_top(lists) -> list[dict]:
    """Top products of several days (or branches) added together, most sold first, then by product id."""
    merged: dict[int, dict] = {}
    for rows in lists:
        for row in rows:
            into = merged.setdefault(row["product_id"], {**row, "quantity": 0, "total": Decimal(0)})
            into["quantity"] += row["quantity"]
            into["total"] += _dec(row["total"])
    ranked = sorted(merged.values(), key=lambda r: (-r["quantity"], r["product_id"]))[:TOP_PRODUCTS]
    return [{**row, "total": amount_text(row["total"])} for row in ranked]


def summarise(session: Session, branch_id: int, day: date) -> dict:
    """Write the branch's `day` (insert, or replace with the figures as they are now); the figures."""
    branch = get(session, Branch, branch_id)
    values = {"branch_id": branch_id, "day": day, "timezone": branch.timezone,
              **figures(session, branch, day), "computed_at": utcnow()}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(DailySummary).values(**values)
    session.execute(statement.on_conflict_do_update(
        index_elements=["branch_id", "day"],
        set_={name: statement.excluded[name] for name in ("timezone", *FIGURES, "computed_at")}))
    return {"branch_id": branch_id, "day": str(day), **{k: values[k] for k in FIGURES}}


def summaries(session: Session, branch_ids: list[int] | None, first: date, last: date) -> list[DailySummary]:
    """Stored summaries of the days `first`..`last` (of every branch when `branch_ids` is None), by branch and day."""
    stmt = select(DailySummary).where(DailySummary.day >= first, DailySummary.day <= last)
    if branch_ids is not None:
        stmt = stmt.where(DailySummary.branch_id.in_(branch_ids))
    return list(session.scalars(stmt.order_by(DailySummary.branch_id, DailySummary.day)))


def active_branches(session: Session) -> list[Branch]:
    return list(session.scalars(select(Branch).where(Branch.active.is_(True)).order_by(Branch.id)))


def closed_days(branch: Branch, now: datetime, lookback: int) -> list[date]:
    """The branch's last `lookback` local days that have ended by `now`, oldest first."""
    current = today(branch.timezone, now)
    return [current - timedelta(days=n) for n in range(lookback, 0, -1)]


def _dec(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def amount_text(value: Decimal) -> str:
    return str(Decimal(value).quantize(CENT))
