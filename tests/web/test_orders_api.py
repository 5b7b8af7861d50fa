"""Orders over HTTP with a real worker: a reservation that holds stock without moving it, confirmed into a
sale, cancelled or expired, each once; never reserved past the stock; bad input refused with nothing written.
Every scenario ends with a clean stock reconciliation (quantity = movements, reserved = pending orders)."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from config import load_settings
from models import InventoryMovement, Order, Role, Stock
from models.base import utcnow
from services.errors import Conflict
from services.sales import orders
from tests.sales_support import branch, counts, product, staff, stock_up
from tasks.beat import start_job
from tests.support import wait_for_status
from worker.schedule import beat_schedule

pytestmark = pytest.mark.usefixtures("worker")
_order_ids = itertools.count(1)


@pytest.fixture
def shop(app, client, admin):
    """Branch A with 5 mugs (10.00, taxed 21 %) and 2 shirts in S; branch B; a seller and a manager in A."""
    ids = {"a": branch(client, admin, "A")["id"], "b": branch(client, admin, "B")["id"],
           "mug": product(client, admin, "MUG", price="10.00", tax_rate="0.21")["id"],
           "shirt": product(client, admin, "SHIRT", price="20.00", has_sizes=True, sizes=["S", "M"])["id"]}
    stock_up(client, admin, ids["a"], {(ids["mug"], ""): 5, (ids["shirt"], "S"): 2})
    ids["seller"] = staff(app, Role.seller, ids["a"])
    ids["manager"] = staff(app, Role.manager, ids["a"])
    return ids


def order(branch_id, items, **extra) -> dict:
    return {"branch_id": branch_id, "channel": "web", "client_order_id": f"O-{next(_order_ids)}",
            "items": [i if isinstance(i, dict) else {"product_id": i[0], "quantity": i[1]} for i in items], **extra}


def post(client, headers, path, body=None, status=200) -> dict:
    answer = client.post(path, json=body, headers={**headers, "Prefer": "wait=20"})
    assert answer.status_code == status, answer.json
    return answer.json


def place(client, headers, body) -> dict:
    job = post(client, headers, "/api/v1/orders", body)
    assert job["status"] == "succeeded", job
    return job["result"]


def row(app, branch_id, product_id, size="") -> tuple[int, int]:
    """(quantity, reserved) of a stock row."""
    with app.extensions["conveyor"].db.read() as session:
        stock = session.scalar(select(Stock).where(Stock.branch_id == branch_id, Stock.product_id == product_id,
                                                   Stock.size == size))
        return stock.quantity, stock.reserved


def movements(app) -> int:
    with app.extensions["conveyor"].db.read() as session:
        return session.scalar(select(func.count()).select_from(InventoryMovement))


def reconciled(client, admin) -> list:
    job = post(client, admin, "/api/v1/admin/stock/reconcile")
    return job["result"]["mismatches"]


def test_an_order_reserves_then_becomes_a_sale_once(app, client, admin, shop):
    moved = movements(app)
    placed = place(client, shop["seller"], order(shop["a"], [(shop["mug"], 2)], channel="phone"))
    assert placed["outcome"] == "applied" and placed["status"] == "pending" and placed["total"] == "24.20"
    assert row(app, shop["a"], shop["mug"]) == (5, 2)  # available 3; the quantity does not move
    assert movements(app) == moved  # a reservation is no movement: movements add up to the quantity
    assert reconciled(client, admin) == []
    order_id = placed["order_id"]
    got = client.get(f"/api/v1/orders/{order_id}", headers=shop["seller"]).json
    assert (got["status"], got["channel"], got["sale_id"]) == ("pending", "phone", None)
    assert [(i["quantity"], i["unit_price"]) for i in got["items"]] == [(2, "10.00")]

    job = post(client, shop["seller"], f"/api/v1/orders/{order_id}/confirm",
               {"payments": [{"method": "cash", "amount": "30.00"}]})
    assert job["status"] == "succeeded" and job["kind"] == "sales.confirm_order", job
    result = job["result"]
    assert result["status"] == "confirmed" and result["change"] == "5.80" and result["invoice_number"]
    assert row(app, shop["a"], shop["mug"]) == (3, 0)
    sale = client.get(f"/api/v1/sales/{result['sale_id']}", headers=shop["seller"]).json
    assert sale["total"] == "24.20" and sale["invoice_id"] == result["invoice_id"] and sale["items"][0]["quantity"] == 2
    got = client.get(f"/api/v1/orders/{order_id}", headers=shop["seller"]).json
    assert (got["status"], got["sale_id"]) == ("confirmed", result["sale_id"])

    again = client.post(f"/api/v1/orders/{order_id}/confirm",
                        json={"payments": [{"method": "card", "amount": "24.20"}]}, headers=shop["seller"])
    assert again.status_code == 409 and again.json["error"]["code"] == "order_not_pending"
    with app.extensions["conveyor"].db.Session() as session, pytest.raises(Conflict) as raised:
        orders.confirm(session, order_id, [{"method": "card", "amount": "24.20"}], job_id=None, credits_per_unit=100)
    assert raised.value.code == "order_not_pending"  # a confirmation job that races the first changes nothing
    assert row(app, shop["a"], shop["mug"]) == (3, 0) and reconciled(client, admin) == []


def test_a_second_placing_is_the_same_order(app, client, shop):
    body = order(shop["a"], [(shop["mug"], 1)])
    first = post(client, shop["seller"], "/api/v1/orders", body)
    twin = client.post("/api/v1/orders", json=body, headers=shop["seller"])
    assert twin.status_code == 200 and twin.json["id"] == first["id"]
    other = client.post("/api/v1/orders", json={**body, "items": [{"product_id": shop["mug"], "quantity": 2}]},
                        headers=shop["seller"])
    assert other.status_code == 409 and other.json["error"]["code"] == "client_order_id_reused"
    assert row(app, shop["a"], shop["mug"]) == (5, 1)


def test_cancel_and_expiry_release_each_order_once(app, client, admin, shop):
    cancelled = place(client, shop["seller"], order(shop["a"], [{"product_id": shop["shirt"], "size": "S",
                                                                "quantity": 2}]))
    stale = place(client, shop["seller"], order(shop["a"], [(shop["mug"], 3)]))
    fresh = place(client, shop["seller"], order(shop["a"], [(shop["mug"], 1)]))
    assert row(app, shop["a"], shop["shirt"], "S") == (2, 2) and row(app, shop["a"], shop["mug"]) == (5, 4)

    job = post(client, shop["seller"], f"/api/v1/orders/{cancelled['order_id']}/cancel")
    assert job["status"] == "succeeded" and job["result"]["status"] == "cancelled", job
    assert row(app, shop["a"], shop["shirt"], "S") == (2, 0)
    again = client.post(f"/api/v1/orders/{cancelled['order_id']}/cancel", headers=shop["seller"])
    assert again.status_code == 409 and again.json["error"]["code"] == "order_not_pending"

    with app.extensions["conveyor"].db.Session.begin() as session:  # placed 31 minutes ago
        session.execute(update(Order).where(Order.id == stale["order_id"])
                        .values(created_at=utcnow() - timedelta(minutes=31)))
    entry = beat_schedule(load_settings())["expire-orders"]
    expired = wait_for_status(app, start_job.apply(args=entry["args"]).get())
    assert expired.owner_id is None and expired.status.value == "succeeded"
    assert expired.result == {"expired": 1, "order_ids": [stale["order_id"]]}, expired.result
    with app.extensions["conveyor"].db.Session.begin() as session:  # a second beat finds nothing left
        assert orders.expire(session, older_than=utcnow() - timedelta(minutes=30)) == []
    assert row(app, shop["a"], shop["mug"]) == (5, 1)
    listed = client.get(f"/api/v1/orders?branch_id={shop['a']}&status=expired", headers=shop["seller"]).json
    assert [o["id"] for o in listed["items"]] == [stale["order_id"]]
    late = client.post(f"/api/v1/orders/{stale['order_id']}/confirm",
                       json={"payments": [{"method": "card", "amount": "36.30"}]}, headers=shop["seller"])
    assert late.status_code == 409 and late.json["error"]["details"]["status"] == "expired"
    assert client.get(f"/api/v1/orders/{fresh['order_id']}", headers=shop["seller"]).json["status"] == "pending"
    assert reconciled(client, admin) == []


def test_an_order_that_cannot_be_reserved_writes_nothing(app, client, admin, shop):
    place(client, shop["seller"], order(shop["a"], [(shop["mug"], 4)]))
    before = {k: v for k, v in counts(app).items() if k != "jobs"}
    job = post(client, shop["seller"], "/api/v1/orders", order(shop["a"], [(shop["mug"], 2)]))
    assert job["status"] == "failed" and job["error"]["code"] == "insufficient_stock", job
    assert job["error"]["details"]["lines"][0]["available"] == 1
    assert {k: v for k, v in counts(app).items() if k != "jobs"} == before
    assert row(app, shop["a"], shop["mug"]) == (5, 4)
    # Nor can a sale take what an order holds.
    sale = post(client, shop["seller"], "/api/v1/sales", {
        "branch_id": shop["a"], "terminal_id": "T1", "client_sale_id": "S-1",
        "items": [{"product_id": shop["mug"], "quantity": 2}], "payments": [{"method": "card", "amount": "24.20"}]})
    assert sale["status"] == "failed" and sale["error"]["code"] == "insufficient_stock"
    assert reconciled(client, admin) == []


def test_concurrent_orders_never_reserve_past_the_stock(app, client, admin, shop):
    def one(n):
        with app.test_client() as own:
            return post(own, shop["seller"], "/api/v1/orders", order(shop["a"], [(shop["mug"], 1)]))

    with ThreadPoolExecutor(8) as pool:
        jobs = list(pool.map(one, range(12)))
    outcomes = sorted(j["status"] if j["status"] == "succeeded" else j["error"]["code"] for j in jobs)
    assert outcomes == ["insufficient_stock"] * 7 + ["succeeded"] * 5, outcomes
    assert row(app, shop["a"], shop["mug"]) == (5, 5)
    assert reconciled(client, admin) == []


BAD = [
    ("unknown product", {"items": [{"product_id": 99999, "quantity": 1}]}, 422, "unknown_product"),
    ("wrong size", {"items": [{"product_id": "shirt", "size": "XL", "quantity": 1}]}, 422, "invalid_size"),
    ("zero quantity", {"items": [{"product_id": "mug", "quantity": 0}]}, 422, "validation_error"),
    ("three decimals", {"items": [{"product_id": "mug", "quantity": 1, "unit_price": "10.001"}]}, 422,
     "validation_error"),
    ("below the price for a seller", {"items": [{"product_id": "mug", "quantity": 1, "unit_price": "9.99"}]}, 403,
     "price_below_minimum"),
    ("unknown channel", {"channel": "fax"}, 422, "validation_error"),
    ("no client id", {"client_order_id": ""}, 422, "validation_error"),
    ("unknown customer", {"customer_id": 99999}, 422, "customer_not_found"),
    ("discount too large", {"discount": "12.11"}, 422, "discount_too_large"),
    ("another branch", {"branch_id": "b"}, 403, "other_branch"),
]


@pytest.mark.parametrize("case,change,status,code", BAD, ids=[b[0] for b in BAD])
def test_bad_orders_are_refused_at_the_door_and_write_nothing(app, client, shop, case, change, status, code):
    body = order(shop["a"], [(shop["mug"], 1)])
    for key, value in change.items():
        if key == "items":
            value = [{**i, "product_id": shop.get(i["product_id"], i["product_id"])} for i in value]
        body[key] = shop.get(value, value) if isinstance(value, str) else value
    before = counts(app)
    answer = client.post("/api/v1/orders", json=body, headers=shop["seller"])
    assert answer.status_code == status and answer.json["error"]["code"] == code, answer.json
    assert counts(app) == before


def test_bad_confirmations_and_reads(app, client, shop):
    placed = place(client, shop["seller"], order(shop["a"], [(shop["mug"], 1)]))
    path = f"/api/v1/orders/{placed['order_id']}"
    before = counts(app)
    for body, status, code in (
            ({"payments": [{"method": "card", "amount": "12.09"}]}, 422, "payments_mismatch"),
            ({"payments": [{"method": "credits", "amount": "12.10"}]}, 422, "no_credit_wallet"),
            ({"payments": []}, 422, "validation_error"),
            ({}, 422, "validation_error")):
        answer = client.post(f"{path}/confirm", json=body, headers=shop["seller"])
        assert answer.status_code == status and answer.json["error"]["code"] == code, (body, answer.json)
    other = staff(app, Role.seller, shop["b"])
    for method, url in (("get", path), ("post", f"{path}/cancel"), ("get", f"/api/v1/orders?branch_id={shop['a']}")):
        answer = getattr(client, method)(url, headers=other)
        assert answer.status_code == 403 and answer.json["error"]["code"] == "other_branch", url
    assert client.get("/api/v1/orders", headers=other).json["items"] == []
    assert client.get("/api/v1/orders/99999", headers=shop["seller"]).status_code == 404
    assert client.post("/api/v1/orders/99999/cancel", headers=shop["seller"]).status_code == 404
    assert client.get("/api/v1/orders?status=lost", headers=shop["seller"]).status_code == 422
    assert counts(app) == before
    assert row(app, shop["a"], shop["mug"]) == (5, 1)


def test_orders_list_filters_and_pages(app, client, admin, shop):
    customer = client.post("/api/v1/customers", json={"name": "Ada"}, headers=shop["seller"]).json
    ids = [place(client, shop["seller"], order(shop["a"], [(shop["mug"], 1)], customer_id=customer["id"]))["order_id"]
           for _ in range(2)] + [place(client, shop["seller"], order(shop["a"], [(shop["mug"], 1)]))["order_id"]]
    page = client.get("/api/v1/orders?limit=2", headers=shop["seller"]).json
    rest = client.get(f"/api/v1/orders?limit=2&cursor={page['next_cursor']}", headers=shop["seller"]).json
    assert [o["id"] for o in page["items"] + rest["items"]] == ids[::-1]
    mine = client.get(f"/api/v1/orders?customer_id={customer['id']}", headers=shop["seller"]).json
    assert sorted(o["id"] for o in mine["items"]) == ids[:2]
    everyone = client.get(f"/api/v1/orders?branch_id={shop['b']}", headers=admin).json
    assert everyone["items"] == []


def test_two_expiry_runs_at_once_expire_each_order_once(app, client, admin, shop):
    ids = [place(client, shop["seller"], order(shop["a"], [(shop["mug"], 1)]))["order_id"] for _ in range(4)]
    db = app.extensions["conveyor"].db
    with db.Session.begin() as session:
        session.execute(update(Order).values(created_at=utcnow() - timedelta(hours=1)))

    def run(_):
        with db.Session.begin() as session:
            return orders.expire(session, older_than=utcnow() - timedelta(minutes=30))

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(run, range(2))
    assert sorted(first + second) == ids and not set(first) & set(second)
    assert row(app, shop["a"], shop["mug"]) == (5, 0) and reconciled(client, admin) == []
