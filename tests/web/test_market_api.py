"""The market over HTTP with a real worker: products, purchases, and the signed payment events that
complete (once), fail and refund them."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from models import PurchaseStatus, RefusedPaymentEvent, Subscription, SubscriptionStatus, Transfer, TransferKind
from services import billing
from tests.support import ensure_tier, make_user, wait_for_status, webhook

pytestmark = pytest.mark.usefixtures("worker")
PACK = {"kind": "pack", "name": "500 credits", "credits": 500, "price": "4.99", "currency": "EUR"}


def add_product(client, admin, **fields) -> dict:
    answer = client.post("/api/v1/admin/market/products", json={**PACK, **fields}, headers=admin)
    assert answer.status_code == 201, answer.json
    return answer.json


def buy(client, auth, product_id: int) -> int:
    answer = client.post("/api/v1/market/purchases", json={"product_id": product_id}, headers=auth)
    assert answer.status_code == 201 and answer.json["status"] == "pending", answer.json
    return answer.json["id"]


def paid(purchase_id: int, event_id: str, amount: str = "4.99", currency: str = "EUR") -> dict:
    return {"id": event_id, "type": "payment.succeeded",
            "data": {"purchase_id": purchase_id, "amount": amount, "currency": currency}}


def deliver(client, app, event: dict) -> dict:
    """Deliver the event and wait for its job to finish; the job."""
    answer = webhook(client, app, event)
    assert answer.status_code in (200, 202), answer.json
    return wait_for_status(app, answer.json["id"])


def purchase(client, auth, purchase_id: int) -> dict:
    items = client.get("/api/v1/market/purchases?limit=200", headers=auth).json["items"]
    return next(item for item in items if item["id"] == purchase_id)


def wallet(client, auth) -> dict:
    return client.get("/api/v1/wallet", headers=auth).json


def test_admins_manage_products_and_users_see_those_on_sale(app, client, db, admin, auth):
    pack = add_product(client, admin)
    tier = add_product(client, admin, kind="tier", name="Basic, monthly", credits=None, price="9.00",
                       tier_id=ensure_tier(db, "basic"))
    hidden = add_product(client, admin, name="old pack", active=False)
    listed = client.get("/api/v1/market/products", headers=auth).json["items"]
    assert [(p["id"], p["kind"], p["price"], p["currency"], p["credits"], p["tier_id"]) for p in listed] == [
        (pack["id"], "pack", "4.99", "EUR", 500, None), (tier["id"], "tier", "9.00", "EUR", None, tier["tier_id"])]
    changed = client.patch(f"/api/v1/admin/market/products/{pack['id']}", json={"price": "5.49", "active": False},
                           headers=admin)
    assert changed.status_code == 200 and changed.json["price"] == "5.49"
    assert [p["id"] for p in client.get("/api/v1/market/products", headers=auth).json["items"]] == [tier["id"]]
    everything = client.get("/api/v1/admin/market/products", headers=admin).json["items"]
    assert [p["id"] for p in everything] == [pack["id"], tier["id"], hidden["id"]]
    assert client.post("/api/v1/market/purchases", json={"product_id": pack["id"]}, headers=auth).status_code == 404


@pytest.mark.parametrize("body, code", [
    ({"currency": "eur"}, "validation_error"), ({"price": "1.999"}, "validation_error"),
    ({"credits": None}, "invalid_product"), ({"kind": "tier", "credits": None, "tier_id": 2**31 - 1}, "unknown_tier"),
    ({"kind": "tier", "tier_id": 1}, "invalid_product"), ({"name": ""}, "validation_error")])
def test_a_bad_product_is_422(client, admin, body, code):
    answer = client.post("/api/v1/admin/market/products", json={**PACK, **body}, headers=admin)
    assert answer.status_code == 422 and answer.json["error"]["code"] == code, answer.json


def test_only_admins_manage_products(client, auth):
    assert client.post("/api/v1/admin/market/products", json=PACK, headers=auth).status_code == 403
    assert client.patch("/api/v1/admin/market/products/1", json={"active": False}, headers=auth).status_code == 403


def test_a_paid_purchase_credits_once_however_often_and_by_whatever_events_it_comes(app, client, admin):
    user_id, auth = make_user(app)
    purchase_id = buy(client, auth, add_product(client, admin)["id"])
    first = webhook(client, app, paid(purchase_id, "evt_paid_1"))
    assert first.status_code == 202
    replay = webhook(client, app, paid(purchase_id, "evt_paid_1"))
    assert replay.status_code in (200, 202) and replay.json["id"] == first.json["id"]
    assert wait_for_status(app, first.json["id"]).status.value == "succeeded"
    # The provider sends a second event for the same payment: the purchase is completed already.
    second = deliver(client, app, paid(purchase_id, "evt_paid_2"))
    assert second.status.value == "succeeded" and second.result["already_completed"] is True
    assert wallet(client, auth)["purchased"] == 500
    assert purchase(client, auth, purchase_id)["status"] == "completed"


def test_concurrent_deliveries_complete_a_purchase_once(app, client, db, admin):
    user_id, auth = make_user(app)
    purchase_id = buy(client, auth, add_product(client, admin)["id"])
    answers, start = [], threading.Barrier(6)

    def send(event_id):
        start.wait()
        answers.append(webhook(app.test_client(), app, paid(purchase_id, event_id)))

    threads = [threading.Thread(target=send, args=(f"evt_c{n % 2}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(a.status_code in (200, 202) for a in answers), [a.json for a in answers]
    assert len({a.json["id"] for a in answers}) == 2  # one job per event id
    for job_id in {a.json["id"] for a in answers}:
        assert wait_for_status(app, job_id).status.value == "succeeded"
    assert wallet(client, auth)["purchased"] == 500
    with db.Session() as session:
        assert session.scalar(select(func.count()).select_from(Transfer)
                              .where(Transfer.kind == TransferKind.topup)) == 1


@pytest.mark.parametrize("amount, currency", [("5.00", "EUR"), ("4.99", "USD")])
def test_a_payment_of_another_amount_or_currency_is_refused_and_recorded(app, client, db, admin, amount, currency):
    user_id, auth = make_user(app)
    purchase_id = buy(client, auth, add_product(client, admin)["id"])
    for _ in range(2):  # redelivered: refused again, recorded once
        answer = webhook(client, app, paid(purchase_id, "evt_wrong", amount, currency))
        assert answer.status_code == 422 and answer.json["error"]["code"] == "amount_mismatch"
        assert answer.json["error"]["details"]["paid"] == {"amount": amount, "currency": currency}
    with db.Session() as session:
        refused = session.scalars(select(RefusedPaymentEvent)).all()
    assert [(r.event_id, r.purchase_id, r.reason) for r in refused] == [("evt_wrong", purchase_id, "amount_mismatch")]
    assert purchase(client, auth, purchase_id)["status"] == "pending"
    assert wallet(client, auth)["purchased"] == 0


def test_events_for_an_unknown_purchase_or_without_an_amount_are_422(app, client, admin):
    answer = webhook(client, app, paid(2**31 - 1, "evt_nobody"))
    assert answer.status_code == 422 and answer.json["error"]["code"] == "unknown_purchase"
    _, auth = make_user(app)
    purchase_id = buy(client, auth, add_product(client, admin)["id"])
    answer = webhook(client, app, {"id": "evt_bare", "type": "payment.succeeded", "data": {"purchase_id": purchase_id}})
    assert answer.status_code == 422 and answer.json["error"]["code"] == "validation_error"


def test_a_paid_tier_purchase_moves_the_subscription_once(app, client, db, admin):
    user_id, auth = make_user(app)
    product = add_product(client, admin, kind="tier", name="Premium", credits=None, price="19.00",
                          tier_id=ensure_tier(db, "premium"))
    purchase_id = buy(client, auth, product["id"])
    for event_id in ("evt_tier_1", "evt_tier_2"):  # a second event for the same payment changes nothing
        job = deliver(client, app, paid(purchase_id, event_id, "19.00"))
        assert job.status.value == "succeeded", job.error
    with db.Session() as session:
        subscription = session.scalar(select(Subscription).where(Subscription.user_id == user_id))
        assert subscription.tier_id == product["tier_id"] and subscription.status == SubscriptionStatus.active
    assert purchase(client, auth, purchase_id)["status"] == "completed"
    shown = client.get("/api/v1/subscription", headers=auth).json
    assert shown["tier"]["name"] == "premium" and shown["granted_this_period"] == shown["allowance"] > 0
    assert wallet(client, auth)["granted"] == shown["allowance"]  # granted once, whatever the events


def test_a_failed_payment_fails_a_tier_purchase(app, client, db, admin):
    _, auth = make_user(app)
    product = add_product(client, admin, kind="tier", name="Premium", credits=None, price="19.00",
                          tier_id=ensure_tier(db, "premium"))
    purchase_id = buy(client, auth, product["id"])
    job = deliver(client, app, {"id": "evt_failed", "type": "payment.failed", "data": {"purchase_id": purchase_id}})
    assert job.status.value == "succeeded"
    shown = purchase(client, auth, purchase_id)
    assert (shown["kind"], shown["status"], shown["tier_id"], shown["amount"]) == (
        "tier", PurchaseStatus.failed.value, product["tier_id"], "19.00")
    assert shown["failed_at"] is not None


def test_a_refund_takes_back_only_the_credits_still_unspent(app, client, db, admin):
    user_id, auth = make_user(app)
    purchase_id = buy(client, auth, add_product(client, admin)["id"])
    deliver(client, app, paid(purchase_id, "evt_paid"))
    spent = client.post("/api/v1/wallet/charges", json={"amount": 300}, headers={**auth, "Prefer": "wait=20"})
    assert spent.json["status"] == "succeeded"
    with db.Session.begin() as session:  # 100 more are reserved by an open hold: not available to take
        billing.hold(session, user_id, 100, key="test-hold")
    refund = {"id": "evt_refund", "type": "payment.refunded", "data": {"purchase_id": purchase_id}}
    job = deliver(client, app, refund)
    assert (job.result["refund_taken"], job.result["refund_not_taken"]) == (100, 400)
    assert deliver(client, app, {**refund, "id": "evt_refund_again"}).result["refund_taken"] == 100
    assert wallet(client, auth) == {**wallet(client, auth), "purchased": 100, "held": 100, "available": 0}
    shown = purchase(client, auth, purchase_id)
    assert (shown["status"], shown["refund_taken"], shown["refund_not_taken"]) == ("refunded", 100, 400)


def test_a_refund_of_a_pack_all_spent_takes_nothing_and_a_pending_purchase_is_not_refunded(app, client, admin):
    _, auth = make_user(app)
    product_id = add_product(client, admin)["id"]
    spent_id, pending_id = buy(client, auth, product_id), buy(client, auth, product_id)
    deliver(client, app, paid(spent_id, "evt_paid"))
    client.post("/api/v1/wallet/charges", json={"amount": 500}, headers={**auth, "Prefer": "wait=20"})
    job = deliver(client, app, {"id": "evt_r1", "type": "payment.refunded", "data": {"purchase_id": spent_id}})
    assert (job.result["refund_taken"], job.result["refund_not_taken"]) == (0, 500)
    assert wallet(client, auth)["balance"] == 0
    job = deliver(client, app, {"id": "evt_r2", "type": "payment.refunded", "data": {"purchase_id": pending_id}})
    assert job.status.value == "failed" and job.error["code"] == "purchase_not_completed"


def test_users_list_their_own_purchases_page_by_page(app, client, admin):
    product_id = add_product(client, admin)["id"]
    _, mine = make_user(app)
    _, theirs = make_user(app)
    bought = [buy(client, mine, product_id) for _ in range(3)]
    buy(client, theirs, product_id)
    first = client.get("/api/v1/market/purchases?limit=2", headers=mine).json
    rest = client.get(f"/api/v1/market/purchases?limit=2&cursor={first['next_cursor']}", headers=mine).json
    assert [p["id"] for p in first["items"] + rest["items"]] == bought[::-1] and rest["next_cursor"] is None
    assert first["items"][0]["amount"] == "4.99" and first["items"][0]["currency"] == "EUR"
