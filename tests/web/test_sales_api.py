"""Sales over HTTP with a real worker: money that adds up, credits through the ledger, exactly once,
gapless invoices, cancellation, and bad input refused at the door with nothing written."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from models import InventoryMovement, Role, Sale
from services import billing
from services.errors import DomainError
from services.sales import selling
from tests.sales_support import (branch, counts, created, product, sale, staff, stock_of, stock_up, wallet_balance)
from tests.support import make_user

pytestmark = pytest.mark.usefixtures("worker")
YEAR = datetime.now(timezone.utc).year


@pytest.fixture
def shop(app, client, admin):
    """Branch A (stocked) and B; a mug at 10.00 taxed 21 %, two pens at 0.10 taxed 25 %, a shirt in sizes."""
    ids = {"a": branch(client, admin, "A")["id"], "b": branch(client, admin, "B")["id"],
           "mug": product(client, admin, "MUG", price="10.00", tax_rate="0.21")["id"],
           "pen": product(client, admin, "PEN", price="0.10", tax_rate="0.25")["id"],
           "pencil": product(client, admin, "PENCIL", price="0.10", tax_rate="0.25")["id"],
           "shirt": product(client, admin, "SHIRT", price="20.00", tax_rate="0.10", has_sizes=True,
                            sizes=["S", "M"])["id"]}
    stock_up(client, admin, ids["a"], {(ids["mug"], ""): 10, (ids["pen"], ""): 10, (ids["pencil"], ""): 10,
                                       (ids["shirt"], "S"): 5, (ids["shirt"], "M"): 5})
    ids["seller"] = staff(app, Role.seller, ids["a"])
    ids["manager"] = staff(app, Role.manager, ids["a"])
    return ids


def sell(client, headers, body, status=200) -> dict:
    answer = client.post("/api/v1/sales", json=body, headers={**headers, "Prefer": "wait=20"})
    assert answer.status_code == status, answer.json
    return answer.json


def reconciled(client, admin) -> bool:
    job = client.post("/api/v1/admin/stock/reconcile", headers={**admin, "Prefer": "wait=20"}).json
    return job["result"]["ok"]


def test_a_sale_end_to_end(app, client, admin, shop):
    body = sale(shop["a"], [(shop["mug"], 2), {"product_id": shop["shirt"], "size": "M", "quantity": 1}],
                [("card", "20.00"), ("cash", "30.00")], discount="1.20")
    job = sell(client, shop["seller"], body)
    assert job["status"] == "succeeded" and job["kind"] == "sales.sale", job
    result = job["result"]
    assert result["outcome"] == "applied" and result["total"] == "45.00" and result["change"] == "5.00"
    assert result["invoice_number"] == f"A-{YEAR}-000001"
    got = client.get(f"/api/v1/sales/{result['sale_id']}", headers=shop["seller"]).json
    assert {k: got[k] for k in ("subtotal", "tax", "discount", "total", "paid", "change", "status")} == {
        "subtotal": "40.00", "tax": "6.20", "discount": "1.20", "total": "45.00", "paid": "50.00",
        "change": "5.00", "status": "completed"}
    assert [(i["quantity"], i["net"], i["tax"]) for i in got["items"]] == [(2, "20.00", "4.20"), (1, "20.00", "2.00")]
    assert got["invoice_id"] and got["credit_note_id"] is None and got["job_id"] == job["id"]
    invoice = client.get(f"/api/v1/invoices/{got['invoice_id']}", headers=shop["seller"]).json
    assert invoice["number"] == f"A-{YEAR}-000001" and invoice["kind"] == "invoice" and invoice["customer"] is None
    assert invoice["tax_summary"] == [{"rate": "0.1000", "net": "20.00", "tax": "2.00"},
                                      {"rate": "0.2100", "net": "20.00", "tax": "4.20"}]
    assert invoice["totals"]["total"] == "45.00" and invoice["seller"]["code"] == "A"
    assert [p["method"] for p in invoice["payments"]] == ["card", "cash"]
    assert stock_of(app, shop["a"])[(shop["mug"], "")] == 8 and stock_of(app, shop["a"])[(shop["shirt"], "M")] == 4
    with app.extensions["conveyor"].db.read() as session:
        moves = session.scalars(select(InventoryMovement).where(InventoryMovement.reason == "sale")).all()
        assert sorted(m.quantity for m in moves) == [-2, -1]
        assert {m.reference for m in moves} == {f"sale:{result['sale_id']}"}
    listed = client.get(f"/api/v1/sales?branch_id={shop['a']}", headers=shop["seller"]).json["items"]
    assert [s["id"] for s in listed] == [result["sale_id"]]
    assert reconciled(client, admin)


def test_tax_is_rounded_half_up_per_line(app, client, shop):
    # 0.10 x 25 % = 0.025 a line: 0.03 each, half-up (half-even would give 0.02), 0.06 in all, where
    # the tax of the summed lines would be 0.05.
    job = sell(client, shop["seller"], sale(shop["a"], [(shop["pen"], 1), (shop["pencil"], 1)], [("cash", "0.26")]))
    assert job["status"] == "succeeded", job
    got = client.get(f"/api/v1/sales/{job['result']['sale_id']}", headers=shop["seller"]).json
    assert (got["subtotal"], got["tax"], got["total"], got["change"]) == ("0.20", "0.06", "0.26", "0.00")
    mismatch = client.post("/api/v1/sales", json=sale(shop["a"], [(shop["pen"], 1), (shop["pencil"], 1)],
                                                      [("card", "0.25")]), headers=shop["seller"])
    assert mismatch.status_code == 422 and mismatch.json["error"]["code"] == "payments_mismatch"


def test_only_a_manager_sells_below_the_catalogue_price(app, client, shop):
    cheap = [{"product_id": shop["mug"], "quantity": 1, "unit_price": "8.00"}]
    before = counts(app)
    refused = client.post("/api/v1/sales", json=sale(shop["a"], cheap, [("cash", "9.68")]), headers=shop["seller"])
    assert refused.status_code == 403 and refused.json["error"]["code"] == "price_below_minimum"
    assert refused.json["error"]["details"]["lines"][0]["minimum"] == "10.00"
    assert counts(app) == before
    job = sell(client, shop["manager"], sale(shop["a"], cheap, [("cash", "9.68")]))
    assert job["status"] == "succeeded" and job["result"]["total"] == "9.68"
    dearer = [{"sku": "MUG", "quantity": 1, "unit_price": "11.00"}]
    assert sell(client, shop["seller"], sale(shop["a"], dearer, [("card", "13.31")]))["status"] == "succeeded"


def test_a_credits_payment_charges_the_customers_wallet_and_a_cancellation_refunds_it(app, client, admin, shop):
    user_id, _ = make_user(app)
    with app.extensions["conveyor"].db.Session.begin() as session:
        billing.top_up(session, user_id, 2000, event_id="seed")
    customer = created(client.post("/api/v1/customers", json={"name": "Ada", "email": "ada@example.com",
                                                              "tax_id": "X123", "user_id": user_id},
                                   headers=shop["seller"]))
    body = sale(shop["a"], [(shop["mug"], 1)], [("credits", "10.00"), ("card", "2.10")], customer_id=customer["id"])
    job = sell(client, shop["seller"], body)
    assert job["status"] == "succeeded", job
    assert wallet_balance(app, user_id) == 2000 - 1000  # 100 credits per unit
    sale_id = job["result"]["sale_id"]
    invoice = client.get(f"/api/v1/invoices/{job['result']['invoice_id']}", headers=shop["seller"]).json
    assert invoice["customer"]["name"] == "Ada" and invoice["customer"]["tax_id"] == "X123"
    theirs = client.get(f"/api/v1/sales?customer_id={customer['id']}", headers=shop["seller"]).json["items"]
    assert [s["id"] for s in theirs] == [sale_id]
    assert invoice["payments"][0] == {"method": "credits", "amount": "10.00", "credits": 1000}

    assert client.post(f"/api/v1/sales/{sale_id}/cancel", json={"reason": "x"},
                       headers=shop["seller"]).status_code == 403
    other = staff(app, Role.manager, shop["b"])
    assert client.post(f"/api/v1/sales/{sale_id}/cancel", json={"reason": "x"}, headers=other).status_code == 403
    cancelled = client.post(f"/api/v1/sales/{sale_id}/cancel", json={"reason": "returned"},
                            headers={**shop["manager"], "Prefer": "wait=20"}).json
    assert cancelled["status"] == "succeeded", cancelled
    assert cancelled["result"]["credit_note_number"] == f"A-CN-{YEAR}-000001"
    assert cancelled["result"]["credits_refunded"] == 1000
    assert wallet_balance(app, user_id) == 2000
    assert stock_of(app, shop["a"])[(shop["mug"], "")] == 10
    got = client.get(f"/api/v1/sales/{sale_id}", headers=shop["manager"]).json
    assert got["status"] == "cancelled" and got["cancel_reason"] == "returned"
    note = client.get(f"/api/v1/invoices/{got['credit_note_id']}", headers=shop["manager"]).json
    assert note["kind"] == "credit_note" and note["credited_invoice_id"] == got["invoice_id"]
    assert note["totals"]["total"] == "-12.10" and note["payments"][0]["credits"] == -1000

    before = counts(app)
    again = client.post(f"/api/v1/sales/{sale_id}/cancel", json={"reason": "again"}, headers=shop["manager"])
    assert again.status_code == 409 and again.json["error"]["code"] == "sale_already_cancelled"
    with app.extensions["conveyor"].db.Session.begin() as session, pytest.raises(DomainError) as raised:
        selling.cancel(session, sale_id, "twice", user_id=None, job_id=None)  # a job that got past the door
    assert raised.value.code == "sale_already_cancelled"
    assert counts(app) == before and wallet_balance(app, user_id) == 2000
    with app.extensions["conveyor"].db.Session.begin() as session:
        assert billing.reconcile(session) == []
    assert reconciled(client, admin)


def test_a_sale_that_cannot_be_paid_or_stocked_writes_nothing_and_leaves_no_gap(app, client, shop):
    user_id, _ = make_user(app)
    customer = created(client.post("/api/v1/customers", json={"name": "Bo", "user_id": user_id},
                                   headers=shop["seller"]))
    first = sell(client, shop["seller"], sale(shop["a"], [(shop["mug"], 1)], [("card", "12.10")]))
    before, stock_before = counts(app), stock_of(app, shop["a"])
    broke = sell(client, shop["seller"], sale(shop["a"], [(shop["mug"], 1)], [("credits", "12.10")],
                                              customer_id=customer["id"]), status=200)
    assert broke["status"] == "failed" and broke["error"]["code"] == "insufficient_funds"
    short = sell(client, shop["seller"], sale(shop["a"], [(shop["mug"], 2), (shop["pen"], 11)], [("card", "25.58")]))
    assert short["status"] == "failed" and short["error"]["code"] == "insufficient_stock"
    assert [(line["product_id"], line["available"]) for line in short["error"]["details"]["lines"]] == [
        (shop["pen"], 10)]
    after = counts(app)
    assert {k: after[k] - before[k] for k in after if after[k] != before[k]} == {"jobs": 2}
    assert stock_of(app, shop["a"]) == stock_before and wallet_balance(app, user_id) == 0
    third = sell(client, shop["seller"], sale(shop["a"], [(shop["mug"], 1)], [("card", "12.10")]))
    assert (first["result"]["invoice_number"], third["result"]["invoice_number"]) == (
        f"A-{YEAR}-000001", f"A-{YEAR}-000002")
    in_b = sell(client, staff(app, Role.admin), sale(shop["b"], [(shop["mug"], 1)], [("card", "12.10")]))
    assert in_b["status"] == "failed"  # B has no stock; its own series starts at 1 with its first sale


def test_the_same_sale_twice_is_one_sale_and_another_under_its_id_is_409(app, client, shop):
    body = sale(shop["a"], [(shop["mug"], 1)], [("card", "12.10")])
    first = sell(client, shop["seller"], body)
    again = client.post("/api/v1/sales", json=body, headers=shop["seller"])
    assert again.status_code == 200 and again.json["id"] == first["id"]
    by_manager = client.post("/api/v1/sales", json={**body, "payments": [{"method": "card", "amount": 12.1}]},
                             headers=shop["manager"])  # the same content, normalised
    assert by_manager.status_code == 200 and by_manager.json["id"] == first["id"]
    before = counts(app)
    other = client.post("/api/v1/sales", json={**body, "items": [{"product_id": shop["mug"], "quantity": 2}],
                                               "payments": [{"method": "card", "amount": "24.20"}]},
                        headers=shop["seller"])
    assert other.status_code == 409 and other.json["error"]["code"] == "client_sale_id_reused"
    assert counts(app) == before and stock_of(app, shop["a"])[(shop["mug"], "")] == 9
    other_terminal = sell(client, shop["seller"], {**body, "terminal_id": "T2"})
    assert other_terminal["result"]["outcome"] == "applied"
    # A job that finds its sale already recorded (a twin submitted by someone else) answers `duplicate`.
    with app.extensions["conveyor"].db.Session.begin() as session:
        from services.sales import pricing
        content = pricing.normalise({k: v for k, v in body.items() if k not in ("branch_id", "terminal_id")})
        twin = selling.record(session, shop["a"], "T1", content, seller_id=None, job_id=None, credits_per_unit=100)
        assert twin["outcome"] == "duplicate" and twin["sale_id"] == first["result"]["sale_id"]
        assert session.query(Sale).count() == 2


BAD = [
    ("unknown product", {"items": [{"product_id": 99999, "quantity": 1}]}, 422, "unknown_product"),
    ("unknown sku", {"items": [{"sku": "NOPE", "quantity": 1}]}, 422, "unknown_product"),
    ("size missing", {"items": [{"product_id": "shirt", "quantity": 1}]}, 422, "invalid_size"),
    ("wrong size", {"items": [{"product_id": "shirt", "size": "XL", "quantity": 1}]}, 422, "invalid_size"),
    ("zero quantity", {"items": [{"product_id": "mug", "quantity": 0}]}, 422, "validation_error"),
    ("negative quantity", {"items": [{"product_id": "mug", "quantity": -1}]}, 422, "validation_error"),
    ("three decimals", {"items": [{"product_id": "mug", "quantity": 1, "unit_price": "10.001"}]}, 422,
     "validation_error"),
    ("payment of three decimals", {"payments": [{"method": "card", "amount": "12.100"}]}, 422, "validation_error"),
    ("payments short", {"payments": [{"method": "card", "amount": "12.09"}]}, 422, "payments_mismatch"),
    ("card over the total", {"payments": [{"method": "card", "amount": "13.00"}]}, 422, "payments_mismatch"),
    ("zero payment", {"payments": [{"method": "cash", "amount": "0"}, {"method": "card", "amount": "12.10"}]}, 422,
     "validation_error"),
    ("unknown method", {"payments": [{"method": "cheque", "amount": "12.10"}]}, 422, "validation_error"),
    ("credits without a customer", {"payments": [{"method": "credits", "amount": "12.10"}]}, 422,
     "no_credit_wallet"),
    ("unknown customer", {"customer_id": 99999}, 422, "customer_not_found"),
    ("discount too large", {"discount": "12.11", "payments": [{"method": "cash", "amount": "0.01"}]}, 422,
     "discount_too_large"),
    ("product id and sku", {"items": [{"product_id": "mug", "sku": "MUG", "quantity": 1}]}, 422,
     "validation_error"),
    ("no items", {"items": []}, 422, "validation_error"),
    ("another branch", {"branch_id": "b"}, 403, "other_branch"),
    ("client id with NUL", {"client_sale_id": "a\u0000"}, 422, "validation_error"),
    ("payments past NUMERIC(12,2)", {"payments": [{"method": "cash", "amount": "9999999999.99"},
                                                  {"method": "cash", "amount": "9999999999.99"}]}, 422,
     "amount_too_large"),
]


@pytest.mark.parametrize("case,change,status,code", BAD, ids=[b[0] for b in BAD])
def test_bad_sales_are_refused_at_the_door_and_write_nothing(app, client, shop, case, change, status, code):
    body = sale(shop["a"], [(shop["mug"], 1)], [("card", "12.10")])
    for key, value in change.items():
        if key == "items":
            value = [{**i, "product_id": shop.get(i["product_id"], i["product_id"])} if "product_id" in i else i
                     for i in value]
        body[key] = shop.get(value, value) if isinstance(value, str) else value
    before = counts(app)
    answer = client.post("/api/v1/sales", json=body, headers=shop["seller"])
    assert answer.status_code == status and answer.json["error"]["code"] == code, answer.json
    assert counts(app) == before


def test_customers_for_staff(app, client, shop):
    seller = shop["seller"]
    ada = created(client.post("/api/v1/customers", json={"name": "Ada Lovelace", "email": "ada@example.com",
                                                         "phone": "+34 600", "tax_id": "T-1"}, headers=seller))
    for n in range(3):
        created(client.post("/api/v1/customers", json={"name": f"Customer {n}"}, headers=seller))
    assert client.get(f"/api/v1/customers/{ada['id']}", headers=seller).json["email"] == "ada@example.com"
    assert [c["id"] for c in client.get("/api/v1/customers?q=LOVE", headers=seller).json["items"]] == [ada["id"]]
    assert [c["id"] for c in client.get("/api/v1/customers?q=T-1", headers=seller).json["items"]] == [ada["id"]]
    page = client.get("/api/v1/customers?limit=3", headers=seller).json
    rest = client.get(f"/api/v1/customers?limit=3&cursor={page['next_cursor']}", headers=seller).json
    assert len(page["items"]) == 3 and [c["id"] for c in rest["items"]] == [ada["id"]]
    changed = client.patch(f"/api/v1/customers/{ada['id']}", json={"phone": None, "name": "Ada K."}, headers=seller)
    assert changed.status_code == 200 and (changed.json["phone"], changed.json["name"]) == (None, "Ada K.")
    before = counts(app)
    _, shopper = make_user(app)
    assert client.get("/api/v1/customers", headers=shopper).status_code == 403
    for body, code in (({"name": "X", "user_id": 99999}, "unknown_user"), ({"name": ""}, "validation_error"),
                       ({"name": "X", "email": "nope"}, "validation_error"), ({"name": "X", "user_id": 2**31},
                                                                             "validation_error")):
        answer = client.post("/api/v1/customers", json=body, headers=seller)
        assert answer.status_code == 422 and answer.json["error"]["code"] == code, answer.json
    assert client.get("/api/v1/customers/99999", headers=seller).status_code == 404
    assert counts(app)["customers"] == before["customers"]


def test_sales_and_invoices_are_read_only_in_ones_own_branch(app, client, shop):
    job = sell(client, shop["seller"], sale(shop["a"], [(shop["mug"], 1)], [("card", "12.10")]))
    other = staff(app, Role.seller, shop["b"])
    assert client.get(f"/api/v1/sales/{job['result']['sale_id']}", headers=other).status_code == 403
    assert client.get(f"/api/v1/invoices/{job['result']['invoice_id']}", headers=other).status_code == 403
    assert client.get(f"/api/v1/sales?branch_id={shop['a']}", headers=other).status_code == 403
    assert client.get("/api/v1/sales", headers=other).json["items"] == []
    assert client.get("/api/v1/sales", headers=staff(app, Role.seller)).json["items"] == []  # in no branch
    assert client.get("/api/v1/sales/99999", headers=other).status_code == 404
