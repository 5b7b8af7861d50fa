"""A batch of stock rows for one branch: each row's outcome, then (when applying) set-based writes that keep
every stock row equal to the sum of its movements (reason `import`, the import as reference).

Rows are read FOR UPDATE (PostgreSQL) in the global order of services/sales/stock.py, so a sale running
at the same time waits for the batch instead of changing a quantity the batch has just read.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from models import InventoryMovement, MovementReason, Product, Stock
from models.base import utcnow
from models.sales import NO_SIZE
from services.imports.bulk import insert_rows, one_of
from services.imports.validation import Row
from services.sales.stock import MAX_QUANTITY


def plan_and_write(session: Session, rows: list[Row], *, branch_id: int, on_existing: str, reference: str,
                   user_id: int | None, write: bool) -> None:
    valid = [row for row in rows if row.data is not None]
    if not valid:
        return
    products = {p.sku: p for p in session.execute(select(Product.id, Product.sku, Product.has_sizes, Product.sizes)
                                                  .where(one_of(session, Product.sku, list({row.data["sku"] for row in valid}))))}
    rows_of = select(Stock.product_id, Stock.size, Stock.quantity, Stock.reserved).where(
        Stock.branch_id == branch_id, one_of(session, Stock.product_id, [p.id for p in products.values()])
    ).order_by(Stock.product_id, Stock.size)
    if write and session.get_bind().dialect.name == "postgresql":
        rows_of = rows_of.with_for_update()
    stock = {(s.product_id, s.size): s for s in session.execute(rows_of)}
    moves = []
    for row in valid:
        data, product = row.data, products.get(row.data["sku"])
        if product is None:
            row.fail("sku", f"no product has SKU {data['sku']}")
            continue
        if data["mode"] == "set" and data["quantity"] < 0:
            row.fail("quantity", "a quantity to set cannot be negative")
            continue
        size = data["size"]
        if (size not in product.sizes) if product.has_sizes else size != NO_SIZE:
            row.fail("size", f"{data['sku']} has no size {size!r}" if size else f"{data['sku']} needs a size")
            continue
        current = stock.get((product.id, size))
        quantity, reserved = (current.quantity, current.reserved) if current else (0, 0)
        delta = data["quantity"] - quantity if data["mode"] == "set" else data["quantity"]
        if not reserved <= quantity + delta <= MAX_QUANTITY:
            row.fail("quantity", f"the row would hold {quantity + delta}; it must stay between what orders hold "
                                 f"({reserved}) and {MAX_QUANTITY}")
            continue
        if (current is not None and on_existing == "skip") or delta == 0:
            row.outcome = "skip"
            continue
        row.outcome, row.changes = ("update", ["quantity"]) if current else ("new", [])
        moves.append({"product_id": product.id, "size": size, "delta": delta})
    if write and moves:
        _write(session, branch_id, moves, reference, user_id)


def _write(session: Session, branch_id: int, moves: list[dict], reference: str, user_id: int | None) -> None:
    now = utcnow()
    dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(dialect_insert(Stock).on_conflict_do_nothing(index_elements=["product_id", "branch_id", "size"]),
                    [{"product_id": m["product_id"], "branch_id": branch_id, "size": m["size"], "quantity": 0,
                      "reserved": 0, "created_at": now, "updated_at": now} for m in moves])
    table = Stock.__table__
    session.execute(update(table).where(table.c.product_id == bindparam("pid"), table.c.branch_id == branch_id,
                                        table.c.size == bindparam("sz"))
                    .values(quantity=table.c.quantity + bindparam("delta"), updated_at=now),
                    [{"pid": m["product_id"], "sz": m["size"], "delta": m["delta"]} for m in moves])
    insert_rows(session, InventoryMovement.__table__, [
        {"product_id": m["product_id"], "branch_id": branch_id, "size": m["size"], "quantity": m["delta"],
         "reason": MovementReason.import_, "reference": reference, "user_id": user_id, "created_at": now}
        for m in moves])
