"""Branches, categories and products: create, change, find; uniqueness answered with its own 409 code."""

from __future__ import annotations

from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Branch, Category, Product, Stock
from models.sales import NO_SIZE
from services.errors import Conflict, DomainError, NotFound
from services.pagination import page, where_given

MAX_ID = 2**31 - 1


def get(session: Session, model, ident: int, *, lock: bool = False):
    """The row, or 404 (an id beyond the column's range names nothing: it is not even looked up)."""
    row = None
    if 0 < ident <= MAX_ID:
        row = session.get(model, ident, with_for_update=lock or None)
    if row is None:
        raise NotFound(f"no such {model.__name__.lower()}", code=f"{model.__name__.lower()}_not_found")
    return row


def _save(session: Session, row, unique: dict[str, tuple[str, str]]):
    """Flush `row` in a savepoint; a unique column already taken is a 409 with that column's code.

    `unique`: {attribute: (code, message)}. A concurrent insert that wins the race is caught by the
    constraint, and then found and reported the same way.
    """
    model, ident = type(row), row.id or 0
    values = {attr: getattr(row, attr) for attr in unique}  # a failed savepoint expires the row's attributes
    _refuse_taken(session, model, ident, values, unique)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        _refuse_taken(session, model, ident, values, unique)
        raise Conflict("the row conflicts with another one", code="conflict") from exc
    return row


def _refuse_taken(session: Session, model, ident: int, values: dict, unique: dict[str, tuple[str, str]]) -> None:
    with session.no_autoflush:  # the changed row must not be flushed outside the savepoint
        for attr, value in values.items():
            if value is not None and session.scalar(
                    select(model.id).where(getattr(model, attr) == value, model.id != ident)) is not None:
                code, message = unique[attr]
                raise Conflict(message, code=code, details={attr: value})


def _update(row, changes: dict) -> None:
    for name, value in changes.items():
        setattr(row, name, value)


def list_page(session: Session, stmt: Select, model, limit: int, cursor: str | None) -> dict:
    items, next_cursor = page(session, stmt, model, limit, cursor)
    return {"items": items, "next_cursor": next_cursor}


# Branches ---------------------------------------------------------------------------------------

BRANCH_UNIQUE = {"code": ("branch_code_taken", "another branch has this code")}


def create_branch(session: Session, data: dict) -> Branch:
    return _save(session, Branch(**data), BRANCH_UNIQUE)


def update_branch(session: Session, branch_id: int, changes: dict) -> Branch:
    branch = get(session, Branch, branch_id, lock=True)
    _update(branch, changes)
    return _save(session, branch, BRANCH_UNIQUE)


def branches(session: Session, *, active: bool | None, limit: int, cursor: str | None) -> dict:
    stmt = where_given(select(Branch), (Branch.active, active))
    return list_page(session, stmt, Branch, limit, cursor)


# Categories -------------------------------------------------------------------------------------

def _check_parent(session: Session, category: Category) -> None:
    """One level of nesting: the parent is a top-level category, and a category with children has no parent."""
    if category.parent_id is None:
        return
    invalid = None
    if category.parent_id == category.id:
        invalid = "a category cannot be its own parent"
    elif get(session, Category, category.parent_id).parent_id is not None:
        invalid = "the parent is itself a subcategory; one level of nesting only"
    elif category.id is not None and session.scalar(
            select(Category.id).where(Category.parent_id == category.id).limit(1)) is not None:
        invalid = "a category with subcategories cannot have a parent"
    if invalid:
        raise DomainError(invalid, code="invalid_parent", details={"parent_id": category.parent_id})


def create_category(session: Session, data: dict) -> Category:
    category = Category(**data)
    _check_parent(session, category)
    return _save(session, category, {})


def update_category(session: Session, category_id: int, changes: dict) -> Category:
    category = get(session, Category, category_id, lock=True)
    _update(category, changes)
    with session.no_autoflush:  # checked before the change reaches the database
        _check_parent(session, category)
    return _save(session, category, {})


def categories(session: Session, *, active: bool | None, parent_id: int | None, limit: int,
               cursor: str | None) -> dict:
    stmt = where_given(select(Category), (Category.active, active), (Category.parent_id, parent_id))
    return list_page(session, stmt, Category, limit, cursor)


# Products ---------------------------------------------------------------------------------------

PRODUCT_UNIQUE = {"sku": ("sku_taken", "another product has this SKU"),
                  "barcode": ("barcode_taken", "another product has this barcode")}


def create_product(session: Session, data: dict) -> Product:
    if data.get("category_id") is not None:
        get(session, Category, data["category_id"])
    return _save(session, Product(**data), PRODUCT_UNIQUE)


def update_product(session: Session, product_id: int, changes: dict) -> Product:
    product = get(session, Product, product_id, lock=True)
    if changes.get("category_id") is not None:
        get(session, Category, changes["category_id"])
    _update(product, changes)
    if "has_sizes" in changes or "sizes" in changes:
        with session.no_autoflush:  # checked before the change reaches the database
            _check_sizes(session, product, changes)
    return _save(session, product, PRODUCT_UNIQUE)


def _check_sizes(session: Session, product: Product, changes: dict) -> None:
    """Sizes iff has_sizes (turning has_sizes off clears them); no size may go while a branch holds it in stock."""
    if not product.has_sizes and changes.get("sizes"):
        raise DomainError("only a product with has_sizes=true has sizes", code="sizes_not_allowed")
    if not product.has_sizes:
        product.sizes = []
    elif not product.sizes:
        raise DomainError("a product with sizes needs its list of sizes", code="sizes_required")
    kept = product.sizes if product.has_sizes else [NO_SIZE]
    held = session.scalars(select(Stock.size).distinct().where(
        Stock.product_id == product.id, Stock.quantity > 0, Stock.size.not_in(kept))).all()
    if held:
        raise Conflict("stock is still held in sizes this change removes", code="sizes_in_stock",
                       details={"sizes": sorted(held)})


def products(session: Session, *, q: str | None, category_id: int | None, active: bool | None, limit: int,
             cursor: str | None) -> dict:
    stmt = select(Product)
    if q:
        stmt = stmt.where(or_(func.lower(Product.name).contains(q.lower(), autoescape=True),
                              Product.sku == q, Product.barcode == q))
    stmt = where_given(stmt, (Product.category_id, category_id), (Product.active, active))
    return list_page(session, stmt, Product, limit, cursor)
