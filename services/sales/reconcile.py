"""Stock reconciliation: every stock row equals the sum of its movements, reserves what its pending
orders hold, and stays within its bounds."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import InventoryMovement, Order, OrderItem, OrderStatus, Stock


def reconcile_stock(session: Session) -> list[dict]:
    """Every broken invariant as {"check", ...}; an empty list means the stock agrees with its movements."""
    sums = {(p, b, s): int(total) for p, b, s, total in session.execute(
        select(InventoryMovement.product_id, InventoryMovement.branch_id, InventoryMovement.size,
               func.sum(InventoryMovement.quantity))
        .group_by(InventoryMovement.product_id, InventoryMovement.branch_id, InventoryMovement.size))}
    held = {(p, b, s): int(total) for p, b, s, total in session.execute(
        select(OrderItem.product_id, Order.branch_id, OrderItem.size, func.sum(OrderItem.quantity))
        .join(Order, Order.id == OrderItem.order_id).where(Order.status == OrderStatus.pending)
        .group_by(OrderItem.product_id, Order.branch_id, OrderItem.size))}
    mismatches = []
    for row in session.execute(select(Stock.product_id, Stock.branch_id, Stock.size, Stock.quantity, Stock.reserved)
                               .order_by(Stock.product_id, Stock.size, Stock.branch_id)):
        key = (row.product_id, row.branch_id, row.size)
        expected = sums.pop(key, 0)
        where = {"product_id": row.product_id, "branch_id": row.branch_id, "size": row.size}
        if row.quantity != expected:
            mismatches.append({"check": "quantity_equals_movements", **where, "quantity": row.quantity,
                               "expected": expected})
        reserved = held.pop(key, 0)
        if row.reserved != reserved:
            mismatches.append({"check": "reserved_equals_pending_orders", **where, "reserved": row.reserved,
                               "expected": reserved})
        if row.quantity < 0 or not 0 <= row.reserved <= row.quantity:
            mismatches.append({"check": "within_bounds", **where, "quantity": row.quantity,
                               "reserved": row.reserved})
    for (product_id, branch_id, size), total in sorted(sums.items()):
        if total != 0:
            mismatches.append({"check": "movements_without_stock_row", "product_id": product_id,
                               "branch_id": branch_id, "size": size, "expected": total})
    return mismatches
