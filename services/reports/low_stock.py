"""Low stock: stock rows at or below their product's minimum (active products only)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Branch, Product, Stock


def low_stock(session: Session, branch_ids: list[int] | None) -> list[dict]:
    """Rows whose quantity is at or below the product's `min_stock`, by branch, SKU and size."""
    stmt = (select(Stock.branch_id, Branch.code.label("branch_code"), Stock.product_id, Product.sku, Product.name,
                   Stock.size, Stock.quantity, Stock.reserved, Product.min_stock)
            .join(Product, Product.id == Stock.product_id).join(Branch, Branch.id == Stock.branch_id)
            .where(Product.active.is_(True), Stock.quantity <= Product.min_stock)
            .order_by(Stock.branch_id, Product.sku, Stock.size))
    if branch_ids is not None:
        stmt = stmt.where(Stock.branch_id.in_(branch_ids))
    return [dict(row._mapping) for row in session.execute(stmt)]
