"""Low stock: stock rows at or below their product's minimum (active products only), and the events
that record each fall below once per crossing."""

from __future__ import annotations

from sqlalchemy import and_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from models import Branch, LowStockEvent, Product, Stock
from models.base import utcnow

IS_LOW = and_(Product.active.is_(True), Stock.quantity <= Product.min_stock)
OPEN = LowStockEvent.resolved_at.is_(None)


def low_stock(session: Session, branch_ids: list[int] | None) -> list[dict]:
    """Rows whose quantity is at or below the product's `min_stock`, by branch, SKU and size, with
    `low_since`: when the crossing was recorded (null until the low-stock job has seen it)."""
    stmt = (select(Stock.branch_id, Branch.code.label("branch_code"), Stock.product_id, Product.sku, Product.name,
                   Stock.size, Stock.quantity, Stock.reserved, Product.min_stock,
                   LowStockEvent.created_at.label("low_since"))
            .join(Product, Product.id == Stock.product_id).join(Branch, Branch.id == Stock.branch_id)
            .outerjoin(LowStockEvent, and_(OPEN, LowStockEvent.product_id == Stock.product_id,
                                           LowStockEvent.branch_id == Stock.branch_id,
                                           LowStockEvent.size == Stock.size))
            .where(IS_LOW).order_by(Stock.branch_id, Product.sku, Stock.size))
    if branch_ids is not None:
        stmt = stmt.where(Stock.branch_id.in_(branch_ids))
    return [dict(row._mapping) for row in session.execute(stmt)]


def record_crossings(session: Session) -> dict:
    """Open an event for each low row without one, resolve the open events of rows above their minimum
    again. Run twice, the second run finds nothing to do; two at once open each event once."""
    low = session.execute(select(Stock.product_id, Stock.branch_id, Stock.size, Stock.quantity, Product.min_stock)
                          .join(Product, Product.id == Stock.product_id).where(IS_LOW)).all()
    open_events = {(e.product_id, e.branch_id, e.size): e.id for e in session.execute(
        select(LowStockEvent.id, LowStockEvent.product_id, LowStockEvent.branch_id, LowStockEvent.size).where(OPEN))}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    opened = 0
    for row in low:
        if open_events.pop((row.product_id, row.branch_id, row.size), None) is None:
            made = session.execute(insert(LowStockEvent).values(
                product_id=row.product_id, branch_id=row.branch_id, size=row.size, quantity=row.quantity,
                min_stock=row.min_stock, created_at=utcnow()).on_conflict_do_nothing(
                index_elements=["product_id", "branch_id", "size"], index_where=OPEN).returning(LowStockEvent.id))
            opened += made.first() is not None  # None: a twin job opened it meanwhile
    resolved = 0
    if open_events:  # what is left open is no longer low
        resolved = session.execute(update(LowStockEvent).where(LowStockEvent.id.in_(list(open_events.values())), OPEN)
                                   .values(resolved_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    return {"opened": opened, "resolved": resolved}
