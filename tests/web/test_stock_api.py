"""Stock over HTTP with a real worker: adjustments and transfers as jobs, all or nothing, never below
zero, no deadlock under concurrency, and a reconciliation that agrees (and catches a tampered row)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select, update

from models import InventoryMovement, Role, Stock
from tests.sales_support import branch, counts, product, staff
from tests.support import wait_for_status

pytestmark = pytest.mark.usefixtures("worker")


@pytest.fixture
def shop(client, admin):
    """Two branches, a product without sizes and one in sizes."""
    return {"a": branch(client, admin, "A")["id"], "b": branch(client, admin, "B")["id"],
            "mug": product(client, admin, "MUG")["id"],
            "shirt": product(client, admin, "SHIRT", has_sizes=True, sizes=["S", "M"])["id"]}


def submit(client, headers, path, body):
    answer = client.post(path, json=body, headers={**headers, "Prefer": "wait=20"})
    assert answer.status_code == 200, answer.json
    return answer.json


def adjust(client, headers, branch_id, items, reason="count"):
    return submit(client, headers, f"/api/v1/branches/{branch_id}/stock/adjustments",
                  {"items": items, "reason": reason})


def stock(client, headers, branch_id) -> dict:
    rows = client.get(f"/api/v1/branches/{branch_id}/stock?limit=200", headers=headers).json["items"]
    return {(r["product_id"], r["size"]): r["quantity"] for r in rows}


def movement_sums(app) -> dict:
    with app.extensions["conveyor"].db.read() as session:
        return {(p, b, s): int(q) for p, b, s, q in session.execute(
            select(InventoryMovement.product_id, InventoryMovement.branch_id, InventoryMovement.size,
                   func.sum(InventoryMovement.quantity)).group_by(
                InventoryMovement.product_id, InventoryMovement.branch_id, InventoryMovement.size))}


def reconcile(client, admin) -> dict:
    job = submit(client, admin, "/api/v1/admin/stock/reconcile", {})
    assert job["status"] == "succeeded" and job["kind"] == "sales.reconcile_stock"
    return job["result"]


def test_an_adjustment_and_a_transfer_end_to_end(app, client, admin, shop):
    a, b, mug, shirt = shop["a"], shop["b"], shop["mug"], shop["shirt"]
    done = adjust(client, admin, a, [{"product_id": mug, "quantity": 10}, {"product_id": shirt, "size": "M",
                                                                            "quantity": 4}], reason="delivery 42")
    assert done["status"] == "succeeded" and done["kind"] == "sales.stock_adjustment"
    assert adjust(client, admin, a, [{"product_id": mug, "quantity": -3}])["status"] == "succeeded"
    moved = submit(client, admin, "/api/v1/stock/transfers", {
        "from_branch_id": a, "to_branch_id": b, "note": "restock B",
        "items": [{"product_id": shirt, "size": "M", "quantity": 4}, {"product_id": mug, "quantity": 5}]})
    assert moved["status"] == "succeeded", moved
    assert stock(client, admin, a) == {(mug, ""): 2, (shirt, "M"): 0}
    assert stock(client, admin, b) == {(mug, ""): 5, (shirt, "M"): 4}
    sums = movement_sums(app)
    assert sums == {(mug, a, ""): 2, (shirt, a, "M"): 0, (mug, b, ""): 5, (shirt, b, "M"): 4}
    with app.extensions["conveyor"].db.read() as session:
        moves = session.scalars(select(InventoryMovement).where(InventoryMovement.reference.like("transfer:%"))).all()
        assert sorted((m.reason.value, m.quantity) for m in moves) == [
            ("transfer_in", 4), ("transfer_in", 5), ("transfer_out", -5), ("transfer_out", -4)]
        assert {m.reference for m in moves} == {f"transfer:{moved['id']}"} and {m.note for m in moves} == {"restock B"}
        first = session.scalars(select(InventoryMovement).order_by(InventoryMovement.id)).first()
        assert first.note == "delivery 42" and first.reference == f"adjustment:{done['id']}" and first.user_id
    history = client.get(f"/api/v1/branches/{a}/stock/movements?product_id={mug}", headers=admin).json
    assert [(m["reason"], m["quantity"]) for m in history["items"]] == [
        ("transfer_out", -5), ("adjustment", -3), ("adjustment", 10)]
    other_manager = staff(app, Role.manager, b)
    assert client.get(f"/api/v1/branches/{a}/stock/movements", headers=other_manager).status_code == 403
    assert reconcile(client, admin) == {"ok": True, "count": 0, "mismatches": []}


def test_a_transfer_that_would_go_negative_writes_nothing(app, client, admin, shop):
    a, b, mug, shirt = shop["a"], shop["b"], shop["mug"], shop["shirt"]
    adjust(client, admin, a, [{"product_id": mug, "quantity": 5}, {"product_id": shirt, "size": "S", "quantity": 1}])
    before = (stock(client, admin, a), stock(client, admin, b), movement_sums(app))
    failed = submit(client, admin, "/api/v1/stock/transfers", {
        "from_branch_id": a, "to_branch_id": b,
        "items": [{"product_id": mug, "quantity": 5}, {"product_id": shirt, "size": "S", "quantity": 2},
                  {"product_id": shirt, "size": "M", "quantity": 1}]})
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert failed["error"]["code"] == "insufficient_stock"
    short = failed["error"]["details"]["lines"]
    assert sorted((line["product_id"], line["size"], line["available"]) for line in short) == [
        (shirt, "M", 0), (shirt, "S", 1)]
    assert (stock(client, admin, a), stock(client, admin, b), movement_sums(app)) == before
    taken = adjust(client, admin, a, [{"product_id": mug, "quantity": -6}])
    assert taken["status"] == "failed" and taken["error"]["code"] == "insufficient_stock"
    assert stock(client, admin, a)[(mug, "")] == 5


@pytest.mark.parametrize("items,code", [
    ([{"product_id": 999, "quantity": 1}], "unknown_product"),
    ([{"product_id": "MUG", "quantity": 1}], "validation_error"),
    ([{"product_id": "shirt", "quantity": 1}], "invalid_size"),  # a sized product needs its size
    ([{"product_id": "shirt", "size": "XL", "quantity": 1}], "invalid_size"),
    ([{"product_id": "mug", "size": "S", "quantity": 1}], "invalid_size"),
    ([{"product_id": "mug", "quantity": 0}], "validation_error"),
    ([{"product_id": "mug", "quantity": 1.5}], "validation_error"),
    ([{"product_id": "mug", "quantity": 10**7}], "validation_error"),
    ([{"product_id": "mug", "quantity": 1}, {"product_id": "mug", "quantity": 2}], "validation_error"),
    ([], "validation_error"),
])
def test_bad_adjustment_lines_are_refused_and_submit_nothing(app, client, admin, shop, items, code):
    items = [{**i, "product_id": shop.get(i["product_id"], i["product_id"])} for i in items]  # "mug": its id
    before = counts(app)
    answer = client.post(f"/api/v1/branches/{shop['a']}/stock/adjustments", json={"items": items, "reason": "x"},
                         headers=admin)
    assert answer.status_code in (404, 422) and answer.json["error"]["code"] == code, answer.json
    assert counts(app) == before


@pytest.mark.parametrize("body,status,code", [
    ({"items": [{"product_id": 1, "quantity": 1}]}, 422, "validation_error"),  # no reason
    ({"items": [{"product_id": 1, "quantity": 1}], "reason": ""}, 422, "validation_error"),
    ({"items": [{"product_id": 1, "quantity": 1}], "reason": "a\u0000"}, 422, "validation_error"),
])
def test_an_adjustment_needs_a_reason(app, client, admin, shop, body, status, code):
    before = counts(app)
    answer = client.post(f"/api/v1/branches/{shop['a']}/stock/adjustments", json=body, headers=admin)
    assert answer.status_code == status and answer.json["error"]["code"] == code
    assert counts(app) == before


def test_stock_of_an_unknown_or_closed_branch(app, client, admin, shop):
    assert client.get("/api/v1/branches/999/stock", headers=admin).json["error"]["code"] == "branch_not_found"
    client.patch(f"/api/v1/branches/{shop['b']}", json={"active": False}, headers=admin)
    before = counts(app)
    closed = client.post(f"/api/v1/branches/{shop['b']}/stock/adjustments",
                         json={"items": [{"product_id": shop["mug"], "quantity": 1}], "reason": "x"}, headers=admin)
    assert closed.status_code == 422 and closed.json["error"]["code"] == "branch_inactive"
    same = client.post("/api/v1/stock/transfers", json={"from_branch_id": shop["a"], "to_branch_id": shop["a"],
                                                         "items": [{"product_id": shop["mug"], "quantity": 1}]},
                       headers=admin)
    assert same.status_code == 422
    assert counts(app) == before


def test_managers_move_stock_only_from_their_own_branch(app, client, admin, shop):
    a, b, mug = shop["a"], shop["b"], shop["mug"]
    manager = staff(app, Role.manager, a)
    assert adjust(client, manager, a, [{"product_id": mug, "quantity": 3}])["status"] == "succeeded"
    before = counts(app)
    body = {"items": [{"product_id": mug, "quantity": 1}], "reason": "x"}
    other = client.post(f"/api/v1/branches/{b}/stock/adjustments", json=body, headers=manager)
    assert other.status_code == 403 and other.json["error"]["code"] == "other_branch"
    into_own = client.post("/api/v1/stock/transfers", json={"from_branch_id": b, "to_branch_id": a,
                                                            "items": body["items"]}, headers=manager)
    assert into_own.status_code == 403 and into_own.json["error"]["code"] == "other_branch"
    seller = staff(app, Role.seller, a)
    assert client.post(f"/api/v1/branches/{a}/stock/adjustments", json=body, headers=seller).status_code == 403
    assert client.post("/api/v1/admin/stock/reconcile", headers=manager).status_code == 403
    assert counts(app) == before
    out = submit(client, manager, "/api/v1/stock/transfers", {"from_branch_id": a, "to_branch_id": b,
                                                               "items": body["items"]})
    assert out["status"] == "succeeded"
    assert stock(client, seller, b) == {(mug, ""): 1}  # everyone signed in reads


def test_concurrent_adjustments_in_opposite_orders_neither_deadlock_nor_go_negative(app, client, admin, shop):
    a, b, mug, shirt = shop["a"], shop["b"], shop["mug"], shop["shirt"]
    rows = [{"product_id": mug}, {"product_id": shirt, "size": "S"}, {"product_id": shirt, "size": "M"}]
    adjust(client, admin, a, [{**r, "quantity": 10} for r in rows])
    job_ids, lock = [], threading.Lock()

    def submitter(n: int) -> None:
        own = app.test_client()
        for round_ in range(4):
            lines = rows if (n + round_) % 2 else list(reversed(rows))
            if n % 3 == 2:  # a transfer out of A, in the other order again
                path, body = "/api/v1/stock/transfers", {"from_branch_id": a, "to_branch_id": b,
                                                         "items": [{**r, "quantity": 2} for r in lines[::-1]]}
            else:
                path, body = f"/api/v1/branches/{a}/stock/adjustments", {
                    "items": [{**r, "quantity": -2 if round_ % 2 == 0 else 1} for r in lines], "reason": "race"}
            answer = own.post(path, json=body, headers=admin)
            assert answer.status_code == 202, answer.json
            with lock:
                job_ids.append(answer.json["id"])

    threads = [threading.Thread(target=submitter, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    jobs = [wait_for_status(app, job_id, timeout=60) for job_id in job_ids]
    assert {job.status.value for job in jobs} <= {"succeeded", "failed"}
    failures = {job.error["code"] for job in jobs if job.status.value == "failed"}
    assert failures <= {"insufficient_stock"}
    assert all(job.attempts == 1 for job in jobs)  # no deadlock (nor any other error) made a job retry
    sums = movement_sums(app)
    with app.extensions["conveyor"].db.read() as session:
        for row in session.scalars(select(Stock)):
            assert 0 <= row.quantity == sums[(row.product_id, row.branch_id, row.size)]
    assert reconcile(client, admin)["ok"] is True


def test_reconciliation_finds_a_tampered_row(app, client, admin, shop):
    a, mug, shirt = shop["a"], shop["mug"], shop["shirt"]
    adjust(client, admin, a, [{"product_id": mug, "quantity": 4}, {"product_id": shirt, "size": "S", "quantity": 2}])
    assert reconcile(client, admin)["ok"] is True
    with app.extensions["conveyor"].db.Session.begin() as session:
        session.execute(update(Stock).where(Stock.product_id == mug).values(quantity=7))
    result = reconcile(client, admin)
    assert result["ok"] is False and result["count"] == 1
    assert result["mismatches"] == [{"check": "quantity_equals_movements", "product_id": mug, "branch_id": a,
                                     "size": "", "quantity": 7, "expected": 4}]


def test_a_redelivered_or_repeated_adjustment_applies_once(app, client, admin, shop, celery_app):
    a, mug = shop["a"], shop["mug"]
    body = {"items": [{"product_id": mug, "quantity": 3}], "reason": "delivery"}
    path = f"/api/v1/branches/{a}/stock/adjustments"
    first = client.post(path, json=body, headers={**admin, "Idempotency-Key": "delivery-7", "Prefer": "wait=20"})
    assert first.status_code == 200 and first.json["status"] == "succeeded"
    again = client.post(path, json=body, headers={**admin, "Idempotency-Key": "delivery-7"})
    assert again.status_code == 200 and again.json["id"] == first.json["id"]
    # The broker hands the finished job's message out once more: the job is claimed by nobody.
    celery_app.send_task("conveyor.jobs.sales.stock_adjustment", args=[first.json["id"]], queue="sales")
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        assert stock(client, admin, a) == {(mug, ""): 3}
        time.sleep(0.1)
    assert movement_sums(app) == {(mug, a, ""): 3}
