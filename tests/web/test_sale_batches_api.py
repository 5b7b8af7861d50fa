"""Offline batches over HTTP with a real worker: every sale its outcome, replays change nothing, and a
sale is the same sale whether it came alone or in a batch."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from models import Invoice, Role, Sale
from tests.sales_support import branch, counts, product, sale, staff, stock_of, stock_up

pytestmark = pytest.mark.usefixtures("worker")
YEAR = datetime.now(timezone.utc).year


@pytest.fixture
def shop(app, client, admin):
    ids = {"a": branch(client, admin, "A")["id"], "b": branch(client, admin, "B")["id"],
           "mug": product(client, admin, "MUG", price="10.00", tax_rate="0.21")["id"]}
    stock_up(client, admin, ids["a"], {(ids["mug"], ""): 3})
    ids["seller"] = staff(app, Role.seller, ids["a"])
    return ids


def content(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in ("branch_id", "terminal_id")}


def send_batch(client, headers, branch_id, sales, terminal="T9") -> dict:
    answer = client.post("/api/v1/sales/batches", json={"branch_id": branch_id, "terminal_id": terminal,
                                                        "sales": sales}, headers={**headers, "Prefer": "wait=30"})
    assert answer.status_code == 200 and answer.json["status"] == "succeeded", answer.json
    return answer.json


def test_a_batch_mixing_good_and_bad_sales_and_its_replay(app, client, shop):
    a, mug = shop["a"], shop["mug"]
    one = content(sale(a, [(mug, 1)], [("card", "12.10")]))
    sales = [
        one,
        dict(one),  # the same sale again: a duplicate
        {**one, "payments": [{"method": "cash", "amount": "20.00"}]},  # its id, other content: a conflict
        content(sale(a, [(mug, 5)], [("card", "60.50")])),  # more than the 2 left
        content(sale(a, [{"sku": "NOPE", "quantity": 1}], [("card", "1.00")])),
        content(sale(a, [{"product_id": mug, "quantity": 1, "unit_price": "5.00"}], [("card", "6.05")])),
        content(sale(a, [(mug, 1)], [("card", "12.00")])),
        content(sale(a, [(mug, 2)], [("cash", "30.00")])),  # the last 2
    ]
    job = send_batch(client, shop["seller"], a, sales)
    result = job["result"]
    assert job["progress"]["done"] == job["progress"]["total"] == 8
    assert [(o["index"], o["outcome"], o.get("reason")) for o in result["outcomes"]] == [
        (0, "applied", None), (1, "duplicate", None), (2, "conflict", None), (3, "rejected", "insufficient_stock"),
        (4, "rejected", "unknown_product"), (5, "rejected", "price_below_minimum"),
        (6, "rejected", "payments_mismatch"), (7, "applied", None)]
    assert (result["total"], result["applied"], result["duplicate"], result["conflict"], result["rejected"]) == (
        8, 2, 1, 1, 4)
    outcomes = result["outcomes"]
    assert outcomes[1]["sale_id"] == outcomes[2]["sale_id"] == outcomes[0]["sale_id"]
    assert [outcomes[0]["invoice_number"], outcomes[7]["invoice_number"]] == [
        f"A-{YEAR}-000001", f"A-{YEAR}-000002"]  # the rejected sales between them took no number
    assert outcomes[7]["change"] == "5.80"
    assert stock_of(app, a)[(mug, "")] == 0

    before = counts(app)
    replay = send_batch(client, shop["seller"], a, sales)["result"]
    assert [o["outcome"] for o in replay["outcomes"]] == [
        "duplicate", "duplicate", "conflict", "rejected", "rejected", "rejected", "rejected", "duplicate"]
    assert {k: v for k, v in counts(app).items() if v != before[k]} == {"jobs": before["jobs"] + 1}
    # The same sale posted alone is the batch's sale: its job answers, nothing new is written.
    alone = client.post("/api/v1/sales", json={"branch_id": a, "terminal_id": "T9", **one}, headers=shop["seller"])
    assert alone.status_code == 200 and alone.json["id"] == job["id"]
    other = client.post("/api/v1/sales", json={"branch_id": a, "terminal_id": "T9", **sales[2]},
                        headers=shop["seller"])
    assert other.status_code == 409 and other.json["error"]["code"] == "client_sale_id_reused"
    with app.extensions["conveyor"].db.read() as session:
        assert session.scalar(select(func.count()).select_from(Sale)) == 2
        assert session.scalar(select(func.count()).select_from(Invoice)) == 2


def test_a_sale_posted_alone_then_in_a_batch_is_a_duplicate(app, client, shop):
    body = sale(shop["a"], [(shop["mug"], 1)], [("card", "12.10")], terminal="T9")
    alone = client.post("/api/v1/sales", json=body, headers={**shop["seller"], "Prefer": "wait=20"}).json
    assert alone["status"] == "succeeded"
    result = send_batch(client, shop["seller"], shop["a"], [content(body)])["result"]
    assert result["outcomes"] == [{"index": 0, "client_sale_id": body["client_sale_id"], "outcome": "duplicate",
                                   "sale_id": alone["result"]["sale_id"], "total": "12.10", "change": "0.00",
                                   "invoice_id": alone["result"]["invoice_id"],
                                   "invoice_number": alone["result"]["invoice_number"]}]


@pytest.mark.parametrize("body,status,code", [
    ({"sales": []}, 422, "validation_error"),
    ({"sales": [{"client_sale_id": "x", "items": [{"product_id": 1, "quantity": 0}],
                 "payments": [{"method": "cash", "amount": "1"}]}]}, 422, "validation_error"),
    ({"sales": [{"client_sale_id": "x", "items": [{"product_id": 1, "quantity": 1}], "payments": []}]}, 422,
     "validation_error"),
    ({"branch_id": "b", "sales": [{"client_sale_id": "x", "items": [{"product_id": 1, "quantity": 1}],
                                   "payments": [{"method": "cash", "amount": "1"}]}]}, 403, "other_branch"),
])
def test_a_malformed_batch_or_another_branchs_is_refused_whole(app, client, shop, body, status, code):
    body = {"branch_id": shop["a"], "terminal_id": "T9", **body}
    body["branch_id"] = shop.get(body["branch_id"], body["branch_id"])
    before = counts(app)
    answer = client.post("/api/v1/sales/batches", json=body, headers=shop["seller"])
    assert answer.status_code == status and answer.json["error"]["code"] == code, answer.json
    assert counts(app) == before


def test_a_batch_of_more_than_1000_sales_is_refused(app, client, shop):
    one = content(sale(shop["a"], [(shop["mug"], 1)], [("card", "12.10")]))
    answer = client.post("/api/v1/sales/batches", json={"branch_id": shop["a"], "terminal_id": "T9",
                                                        "sales": [one] * 1001}, headers=shop["seller"])
    assert answer.status_code == 422
