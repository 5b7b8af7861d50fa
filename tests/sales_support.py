"""Helpers for the sales tests: staff in a branch, catalogue rows over HTTP, counting what was written."""

from __future__ import annotations

from sqlalchemy import func, select, update

from models import Branch, Category, InventoryMovement, Job, Product, Role, Stock, User
from tests.support import make_user

SALES_TABLES = (Branch, Category, Product, Stock, InventoryMovement, Job)


def staff(app, role: Role, branch_id: int | None = None) -> dict:
    """Headers of a new user of `role`, belonging to `branch_id`."""
    user_id, headers = make_user(app, role)
    with app.extensions["conveyor"].db.Session.begin() as session:
        session.execute(update(User).where(User.id == user_id).values(branch_id=branch_id))
    return headers


def created(answer) -> dict:
    assert answer.status_code == 201, answer.json
    return answer.json


def branch(client, admin, code="B01", **extra) -> dict:
    return created(client.post("/api/v1/branches", json={"name": f"Branch {code}", "code": code, **extra},
                               headers=admin))


def product(client, admin, sku="SKU-1", **extra) -> dict:
    return created(client.post("/api/v1/products", json={"sku": sku, "name": f"Product {sku}", "price": "10.00",
                                                         **extra}, headers=admin))


def counts(app) -> dict:
    """How many rows each sales table (and jobs) holds: a rejected request changes none."""
    with app.extensions["conveyor"].db.read() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in SALES_TABLES}
