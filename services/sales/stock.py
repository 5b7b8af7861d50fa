"""Stock moves: every change to a stock row is one conditional UPDATE plus its movement, never below zero.

Rows are always taken in one global order, (product_id, size, branch_id), so that concurrent jobs
touching the same rows wait for each other instead of deadlocking. A line that cannot be applied
fails the whole operation with `insufficient_stock` (the lines at fault in `details`); the caller's
transaction then rolls back, so nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from models import Branch, InventoryMovement, MovementReason, Product, Stock
from models.base import utcnow
from models.sales import NO_SIZE
from services.errors import DomainError
from services.pagination import where_given
from services.sales.catalogue import get, list_page

MAX_QUANTITY = 2**31 - 1  # the stock column is an INTEGER


class InsufficientStock(DomainError):
    code = "insufficient_stock"
    status = 422


@dataclass(frozen=True)
class Move:
    """One signed change to one stock row: to its quantity (with a movement), and to what orders hold
    of it (`reserved`: + reserves, - releases; both at once: a reservation turned into a sale)."""

    product_id: int
    branch_id: int
    size: str
    quantity: int
    reason: MovementReason
    reserved: int = 0

    @property
    def order(self) -> tuple:
        return self.product_id, self.size, self.branch_id


def check_lines(session: Session, branch_ids: list[int], items: list[dict]) -> None:
    """Every branch exists and is active; every line names an active product and one of its sizes
    ("" for a product without sizes). Raises with the lines at fault."""
    for branch_id in branch_ids:
        if not get(session, Branch, branch_id).active:
            raise DomainError("the branch is not active", code="branch_inactive", details={"branch_id": branch_id})
    ids = {item["product_id"] for item in items}
    found = {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(ids)))}
    faults = []
    for index, item in enumerate(items):
        product = found.get(item["product_id"])
        if product is None or not product.active:
            faults.append({"line": index, "product_id": item["product_id"], "problem": "unknown_product"})
        elif (item["size"] not in product.sizes) if product.has_sizes else item["size"] != NO_SIZE:
            faults.append({"line": index, "product_id": product.id, "size": item["size"], "problem": "invalid_size",
                           "sizes": product.sizes})
    if faults:
        code = faults[0]["problem"] if len({f["problem"] for f in faults}) == 1 else "invalid_lines"
        raise DomainError("some lines name no product or size of ours", code=code, details={"lines": faults})


def apply(session: Session, moves: list[Move], *, reference: str, user_id: int | None,
          note: str | None = None) -> list[dict]:
    """Apply every move (in the global row order) with its movement; all or nothing.

    Returns the rows' new quantities. A row that does not exist yet is created at zero by an increase;
    a decrease or a reservation past the row's available quantity (quantity - reserved), or a release
    past what is reserved, is a fault. Only a change of quantity writes a movement.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    faults, rows = [], []
    for move in sorted(moves, key=lambda m: m.order):
        key = (Stock.product_id == move.product_id, Stock.branch_id == move.branch_id, Stock.size == move.size)
        if move.quantity > 0:
            now = utcnow()
            session.execute(insert(Stock).values(
                product_id=move.product_id, branch_id=move.branch_id, size=move.size, quantity=0, reserved=0,
                created_at=now, updated_at=now).on_conflict_do_nothing(
                    index_elements=["product_id", "branch_id", "size"]))
            # Written so that nothing overflows: quantity + n <= MAX is quantity <= MAX - n.
            fits = Stock.quantity <= MAX_QUANTITY - move.quantity
        else:
            # After the change 0 <= reserved <= quantity: a decrease or a reservation fits in what is
            # available (quantity - reserved), a release in what is reserved.
            fits = ((Stock.reserved >= -move.reserved)
                    & (Stock.quantity - Stock.reserved >= move.reserved - move.quantity))
        row = session.execute(
            update(Stock).where(*key, fits)
            .values(quantity=Stock.quantity + move.quantity, reserved=Stock.reserved + move.reserved,
                    updated_at=utcnow())
            .returning(Stock.quantity, Stock.reserved)).first()
        if row is None:
            faults.append({"product_id": move.product_id, "branch_id": move.branch_id, "size": move.size,
                           "quantity": move.quantity, "available": _available(session, move),
                           "problem": "quantity_too_large" if move.quantity > 0 else "insufficient_stock"})
            continue
        if move.quantity:
            session.add(InventoryMovement(product_id=move.product_id, branch_id=move.branch_id, size=move.size,
                                          quantity=move.quantity, reason=move.reason, reference=reference,
                                          note=note, user_id=user_id))
        rows.append({"product_id": move.product_id, "branch_id": move.branch_id, "size": move.size,
                     "quantity": row.quantity, "reserved": row.reserved})
    if faults:
        if all(fault["problem"] == "quantity_too_large" for fault in faults):
            raise DomainError("some rows would exceed the largest quantity a stock row holds; nothing was changed",
                              code="quantity_too_large", details={"lines": faults, "maximum": MAX_QUANTITY})
        raise InsufficientStock("not enough stock for some lines; nothing was changed", details={"lines": faults})
    session.flush()
    return rows


def _available(session: Session, move: Move) -> int:
    row = session.execute(select(Stock.quantity, Stock.reserved).where(
        Stock.product_id == move.product_id, Stock.branch_id == move.branch_id, Stock.size == move.size)).first()
    return 0 if row is None else row.quantity - row.reserved


def adjust(session: Session, branch_id: int, items: list[dict], *, reason: str, reference: str,
           user_id: int | None) -> dict:
    """Add or take stock in one branch (signed lines), with the reason on each movement."""
    check_lines(session, [branch_id], items)
    moves = [Move(i["product_id"], branch_id, i["size"], i["quantity"], MovementReason.adjustment) for i in items]
    return {"branch_id": branch_id, "rows": apply(session, moves, reference=reference, user_id=user_id, note=reason)}


def transfer(session: Session, from_branch_id: int, to_branch_id: int, items: list[dict], *, reference: str,
             user_id: int | None, note: str | None = None) -> dict:
    """Move stock out of one branch and into another, all or nothing."""
    check_lines(session, [from_branch_id, to_branch_id], items)
    moves = [move for i in items for move in (
        Move(i["product_id"], from_branch_id, i["size"], -i["quantity"], MovementReason.transfer_out),
        Move(i["product_id"], to_branch_id, i["size"], i["quantity"], MovementReason.transfer_in))]
    return {"from_branch_id": from_branch_id, "to_branch_id": to_branch_id,
            "rows": apply(session, moves, reference=reference, user_id=user_id, note=note)}


def stock_of(session: Session, branch_id: int, *, product_id: int | None, limit: int, cursor: str | None) -> dict:
    get(session, Branch, branch_id)
    stmt = where_given(select(Stock).where(Stock.branch_id == branch_id), (Stock.product_id, product_id))
    return list_page(session, stmt, Stock, limit, cursor)


def movements_of(session: Session, branch_id: int, *, product_id: int | None, limit: int,
                 cursor: str | None) -> dict:
    """The branch's inventory movements, newest first."""
    get(session, Branch, branch_id)
    stmt = where_given(select(InventoryMovement).where(InventoryMovement.branch_id == branch_id),
                       (InventoryMovement.product_id, product_id))
    return list_page(session, stmt, InventoryMovement, limit, cursor)
