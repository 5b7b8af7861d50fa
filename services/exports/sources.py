"""What each kind of export holds: its header, and one statement that reads its rows in order.

The products' and the stock's columns are the importer's (services/imports/columns.py), in its order and
spelling: an export of them imports back unchanged. A stock file starts with a `branch` column (an import
into one branch reports it as unknown and goes on); its `mode` is `set`, as a snapshot of quantities is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Callable

from sqlalchemy import Select, and_, false, literal, or_, select
from sqlalchemy.orm import Session

from models import Branch, Category, DocumentKind, ExportKind, Invoice, Product, Sale, Stock
from services.imports.columns import COLUMNS, canonical_headers, sizes_cell
from services.pagination import where_given
from services.reports.days import bounds

PRODUCT_FIELDS = {"sku": Product.sku, "name": Product.name, "price": Product.price, "cost": Product.cost,
                  "tax_rate": Product.tax_rate, "category": Category.name, "sizes": Product.sizes,
                  "barcode": Product.barcode, "active": Product.active, "description": Product.description,
                  "min_stock": Product.min_stock}
STOCK_FIELDS = {"sku": Product.sku, "size": Stock.size, "quantity": Stock.quantity, "mode": literal("set")}
PRODUCT_COLUMNS = tuple(canonical_headers("products"))
STOCK_COLUMNS = ("branch", *canonical_headers("stock"))
SIZES_AT = list(COLUMNS["products"]).index("sizes")
SALE_COLUMNS = ("sale_id", "created_at", "branch", "terminal_id", "client_sale_id", "invoice", "status",
                "customer_id", "seller_id", "subtotal", "tax", "discount", "total", "paid", "change", "cancelled_at")


@dataclass(frozen=True)
class Source:
    header: tuple[str, ...]
    stmt: Select
    cells: Callable[[tuple], tuple]  # a row of `stmt` -> its cells, in the header's order


def source(session: Session, kind: ExportKind, filters: dict) -> Source:
    return SOURCES[kind](session, filters)


def _products(session: Session, filters: dict) -> Source:
    stmt = (select(*(PRODUCT_FIELDS[name] for name in COLUMNS["products"]))
            .outerjoin(Category, Category.id == Product.category_id).order_by(Product.sku))
    stmt = where_given(stmt, (Product.category_id, filters.get("category_id")), (Product.active, filters.get("active")))
    return Source(PRODUCT_COLUMNS, stmt,
                  lambda row: (*row[:SIZES_AT], sizes_cell(row[SIZES_AT]), *row[SIZES_AT + 1:]))


def _stock(session: Session, filters: dict) -> Source:
    stmt = (select(Branch.code, *(STOCK_FIELDS[name] for name in COLUMNS["stock"]))
            .join(Branch, Branch.id == Stock.branch_id).join(Product, Product.id == Stock.product_id)
            .order_by(Branch.code, Product.sku, Stock.size))
    return Source(STOCK_COLUMNS, where_given(stmt, (Stock.branch_id, filters.get("branch_id"))), tuple)


def _sales(session: Session, filters: dict) -> Source:
    stmt = (select(Sale.id, Sale.created_at, Branch.code, Sale.terminal_id, Sale.client_sale_id, Invoice.number,
                   Sale.status, Sale.customer_id, Sale.seller_id, Sale.subtotal, Sale.tax, Sale.discount, Sale.total,
                   Sale.paid, Sale.change, Sale.cancelled_at)
            .join(Branch, Branch.id == Sale.branch_id)
            .outerjoin(Invoice, and_(Invoice.sale_id == Sale.id, Invoice.kind == DocumentKind.invoice))
            .order_by(Sale.created_at, Sale.id))
    stmt = where_given(stmt, (Sale.branch_id, filters.get("branch_id")))
    first, last = (date.fromisoformat(filters[k]) if filters.get(k) else None for k in ("from", "to"))
    if first or last:
        stmt = stmt.where(_local_days(session, filters.get("branch_id"), first, last))
    return Source(SALE_COLUMNS, stmt, lambda row: (*row[:6], row[6].value, *row[7:]))


def _local_days(session: Session, branch_id: int | None, first: date | None, last: date | None):
    """Sales made from `first` to `last` (both included) in each branch's own days, as the reports count them."""
    branches = session.execute(where_given(select(Branch.id, Branch.timezone), (Branch.id, branch_id))).all()
    per_branch = []
    for ident, tz in branches:
        conditions = [Sale.branch_id == ident]
        if first:
            conditions.append(Sale.created_at >= bounds(first, tz)[0])
        if last:
            conditions.append(Sale.created_at < bounds(last, tz)[1])
        per_branch.append(and_(*conditions))
    return or_(false(), *per_branch)


SOURCES: dict[ExportKind, Callable[[Session, dict], Source]] = {
    ExportKind.products: _products, ExportKind.stock: _stock, ExportKind.sales: _sales}
