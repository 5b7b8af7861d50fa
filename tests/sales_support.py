"""Helpers for the sales tests: staff in a branch, catalogue rows over HTTP, counting what was written."""

from __future__ import annotations

import itertools

from sqlalchemy import func, select

from models import (Account, Branch, Category, Customer, DocumentCounter, InventoryMovement, Invoice, Job,
                    LedgerOperation, Order, OrderItem, Product, Role, Sale, SaleItem, SalePayment, Stock, Transfer)
from tests.support import make_user

SALES_TABLES = (Branch, Category, Product, Stock, InventoryMovement, Job, Customer, Sale, SaleItem, SalePayment,
                Invoice, DocumentCounter, LedgerOperation, Transfer, Order, OrderItem)
_sale_ids = itertools.count(1)


def staff(app, role: Role, branch_id: int | None = None) -> dict:
    """Headers of a new user of `role`, belonging to `branch_id`."""
    return make_user(app, role, branch_id)[1]


def created(answer) -> dict:
    assert answer.status_code == 201, answer.json
    return answer.json


def branch(client, admin, code="B01", **extra) -> dict:
    return created(client.post("/api/v1/branches", json={"name": f"Branch {code}", "code": code, **extra},
                               headers=admin))


def product(client, admin, sku="SKU-1", **extra) -> dict:
    return created(client.post("/api/v1/products", json={"sku": sku, "name": f"Product {sku}", "price": "10.00",
                                                         **extra}, headers=admin))


def stock_up(client, admin, branch_id, lines: dict, reason="delivery") -> None:
    """Set stock in a branch through an adjustment job: {(product_id, size): quantity}."""
    items = [{"product_id": p, "size": size, "quantity": q} for (p, size), q in lines.items()]
    answer = client.post(f"/api/v1/branches/{branch_id}/stock/adjustments", json={"items": items, "reason": reason},
                         headers={**admin, "Prefer": "wait=20"})
    assert answer.status_code == 200 and answer.json["status"] == "succeeded", answer.json


def sale(branch_id, items, payments, terminal="T1", **extra) -> dict:
    """A sale's body; `items` as (product_id, quantity) or dicts, `payments` as (method, amount)."""
    return {"branch_id": branch_id, "terminal_id": terminal, "client_sale_id": f"S-{next(_sale_ids)}",
            "items": [i if isinstance(i, dict) else {"product_id": i[0], "quantity": i[1]} for i in items],
            "payments": [{"method": m, "amount": a} for m, a in payments], **extra}


def stock_of(app, branch_id) -> dict:
    """{(product_id, size): quantity} of a branch, read from the table."""
    with app.extensions["conveyor"].db.read() as session:
        return {(r.product_id, r.size): r.quantity for r in session.scalars(select(Stock).where(
            Stock.branch_id == branch_id))}


def wallet_balance(app, user_id) -> int:
    with app.extensions["conveyor"].db.read() as session:
        return int(session.scalar(select(func.coalesce(func.sum(Account.balance), 0)).where(
            Account.owner_id == user_id)))


def counts(app) -> dict:
    """How many rows each sales table (and jobs) holds: a rejected request changes none."""
    with app.extensions["conveyor"].db.read() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in SALES_TABLES}
