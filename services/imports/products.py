"""A batch of product rows against the catalogue: each row's outcome, then (when applying) one set-based write.

Lookups are one query per batch (the batch's SKUs, its barcodes, the stock of products gaining sizes);
writes are one INSERT of the new products (COPY on PostgreSQL) and one set-based UPDATE per set of changed
columns (services/imports/bulk.py).
Sizes in a file are added to a product's (an import never removes a size a branch may hold).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from models import Category, Product, Stock
from models.base import utcnow
from models.sales import NO_SIZE
from services.imports.bulk import insert_rows, one_of, update_rows
from services.imports.validation import Row

COMPARED = ("name", "price", "cost", "tax_rate", "barcode", "active", "description", "min_stock")
DEFAULTS = {"cost": Decimal("0.00"), "tax_rate": Decimal("0"), "barcode": None, "active": True,
            "description": None, "min_stock": 0, "category_id": None}


class Categories:
    """Category ids by name (case-insensitive), loaded once per run; missing ones made when writing."""

    def __init__(self, session: Session, create: bool):
        self.create = create
        self.ids: dict[str, int | None] = {}
        for ident, name in session.execute(select(Category.id, Category.name).order_by(Category.id.desc())):
            self.ids[name.casefold()] = ident  # the oldest of two namesakes wins

    def resolve(self, session: Session, name: str, write: bool) -> tuple[bool, int | None]:
        """(known or creatable, id); the id is None for a category a preview would create."""
        key = name.casefold()
        if key in self.ids:
            return True, self.ids[key]
        if not self.create:
            return False, None
        if write:
            self.ids[key] = session.scalar(insert(Category).values(name=name, active=True, created_at=utcnow())
                                           .returning(Category.id))
        return True, self.ids.get(key)


def plan_and_write(session: Session, rows: list[Row], *, on_existing: str, categories: Categories,
                   write: bool) -> None:
    """Set each valid row's outcome (new, update with its changes, skip, or error); write them if `write`."""
    valid = [row for row in rows if row.data is not None]
    if not valid:
        return
    existing = {p.sku: p for p in session.execute(select(
        Product.id, Product.sku, Product.barcode, Product.category_id, Product.has_sizes, Product.sizes,
        *[getattr(Product, name) for name in COMPARED if name != "barcode"])
        .where(one_of(session, Product.sku, [row.data["sku"] for row in valid])))}
    barcodes = [row.data["barcode"] for row in valid if row.data.get("barcode")]
    barcode_owner = {}
    if barcodes:
        barcode_owner = {barcode: sku for barcode, sku in session.execute(
            select(Product.barcode, Product.sku).where(one_of(session, Product.barcode, barcodes)))}
    new, changed = [], []
    for row in valid:
        data, current = row.data, existing.get(row.data["sku"])
        owner = barcode_owner.get(data.get("barcode"))
        if owner is not None and owner != data["sku"]:
            row.fail("barcode", f"product {owner} already has barcode {data['barcode']}")
            continue
        if "category" in data:
            known, data["category_id"] = categories.resolve(session, data.pop("category"), write)
            if not known:
                row.fail("category", "no category of this name (and creating categories is off)")
                continue
        if current is None:
            row.outcome = "new"
            new.append(row)
        elif on_existing == "skip":
            row.outcome = "skip"
        else:
            row.changes = _changes(current, data)
            row.outcome = "update" if row.changes else "skip"
            if row.changes:
                changed.append((row, current))
    _refuse_sizes_over_stock(session, changed)
    if write:
        _write(session, new, [(row, current) for row, current in changed if row.outcome == "update"])


def _changes(current, data: dict) -> list[str]:
    changes = [name for name in COMPARED if name in data and data[name] != getattr(current, name)]
    if "category_id" in data and (data["category_id"] is None or data["category_id"] != current.category_id):
        changes.append("category")
    if any(size not in current.sizes for size in data.get("sizes", ())):
        changes.append("sizes")
    return changes


def _refuse_sizes_over_stock(session: Session, changed: list) -> None:
    """A product that gains its first sizes must hold no stock without a size."""
    gaining = {current.id: row for row, current in changed if "sizes" in row.changes and not current.has_sizes}
    if not gaining:
        return
    for product_id in session.scalars(select(Stock.product_id).where(
            Stock.product_id.in_(gaining), Stock.size == NO_SIZE, Stock.quantity > 0).group_by(Stock.product_id)):
        gaining[product_id].fail("sizes", "the product has stock without a size; move it before adding sizes")


def _write(session: Session, new: list[Row], changed: list) -> None:
    now = utcnow()
    if new:
        base = {**DEFAULTS, "sizes": [], "has_sizes": False, "created_at": now}
        rows = [base | row.data for row in new]  # planning replaced `category` with `category_id`
        for values in rows:
            values["has_sizes"] = bool(values["sizes"])
        insert_rows(session, Product.__table__, rows)
    groups: dict[tuple, list[dict]] = {}
    for row, current in changed:
        values = {name: row.data[name] for name in COMPARED if name in row.changes}
        if "category" in row.changes:
            values["category_id"] = row.data["category_id"]
        if "sizes" in row.changes:
            values["sizes"] = current.sizes + [s for s in row.data["sizes"] if s not in current.sizes]
            values["has_sizes"] = True
        groups.setdefault(tuple(sorted(values)), []).append({"id": current.id, **values})
    for rows in groups.values():  # one statement per set of changed columns (Core: the ORM would load each product)
        update_rows(session, Product.__table__, rows)
