"""The wallet API over HTTP with a real worker: bonus, charges, webhooks, refunds, adjustments, reconcile."""

from __future__ import annotations

import json
import time

import pytest

from models import Role, User
from services.billing.signatures import sign
from tests.support import WEBHOOK, ensure_branch, load_job, make_user, register, wait_for_status, webhook

pytestmark = pytest.mark.usefixtures("worker")


def wait(client, headers, path, body):
    answer = client.post(path, json=body, headers={**headers, "Prefer": "wait=20"})
    assert answer.status_code == 200, answer.json
    return answer.json


def test_registration_grants_the_signup_bonus(client):
    _, auth = register(client)
    assert client.get("/api/v1/wallet", headers=auth).json == {
        "balance": 100, "available": 100, "held": 0, "granted": 100, "purchased": 0, "currency": "credits"}
    history = client.get("/api/v1/wallet/transactions", headers=auth).json
    assert [t["kind"] for t in history["items"]] == ["bonus"] and history["next_cursor"] is None


def test_charges_spend_granted_first_and_fail_when_short(client):
    _, auth = register(client)
    ok = wait(client, auth, "/api/v1/wallet/charges", {"amount": 60, "description": "report", "reference": "r-1"})
    assert ok["status"] == "succeeded" and ok["result"]["amount"] == 60
    short = wait(client, auth, "/api/v1/wallet/charges", {"amount": 41})
    assert short["status"] == "failed" and short["error"]["code"] == "insufficient_funds"
    assert short["attempts"] == 1  # a domain error is not retried
    assert client.get("/api/v1/wallet", headers=auth).json["balance"] == 40


def test_a_payment_webhook_tops_up_once_however_often_it_comes(app, client):
    user_id, auth = register(client)
    event = {"id": "evt_1", "type": "payment.succeeded", "data": {"user_id": user_id, "amount": 500}}
    first = webhook(client, app, event)
    assert first.status_code == 202
    again = [webhook(client, app, event) for _ in range(2)]
    assert {a.status_code for a in again} == {200} and {a.json["id"] for a in again} == {first.json["id"]}
    # The top-up is a system job: the payer can neither see it nor cancel the credits they paid for.
    assert client.get(first.headers["Location"], headers=auth).status_code == 404
    assert client.post(f"{first.headers['Location']}/cancel", headers=auth).status_code == 404
    assert load_job(app, first.json["id"]).owner_id is None
    deadline = time.monotonic() + 20
    while client.get("/api/v1/wallet", headers=auth).json["purchased"] != 500:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    assert client.get("/api/v1/wallet", headers=auth).json["purchased"] == 500


@pytest.mark.parametrize("tamper", ["bad_signature", "stale", "future", "no_header", "wrong_secret"])
def test_a_badly_signed_webhook_writes_nothing(app, client, db, tamper):
    user_id, auth = register(client)
    event = {"id": f"evt_{tamper}", "type": "payment.succeeded", "data": {"user_id": user_id, "amount": 5}}
    body = json.dumps(event).encode()
    secret = app.extensions["conveyor"].settings.payment_webhook_secrets[0]
    at = {"stale": time.time() - 301, "future": time.time() + 301}.get(tamper, time.time())
    header = sign("not-the-secret" if tamper == "wrong_secret" else secret, body, int(at))
    if tamper == "bad_signature":
        header = header[:-1] + ("0" if header[-1] != "0" else "1")
    headers = {"Content-Type": "application/json"} | ({} if tamper == "no_header" else {"Conveyor-Signature": header})
    answer = client.post(WEBHOOK, data=body, headers=headers)
    assert answer.status_code == 400
    assert answer.json["error"]["code"] in ("invalid_signature", "stale_signature")
    assert client.get("/api/v1/jobs", headers=auth).json["items"] == []


def test_a_client_cannot_take_a_payment_events_idempotency_key(app, client):
    user_id, auth = register(client)
    for key in ("payment event evt_squat", "payment:evt_squat"):
        answer = client.post("/api/v1/jobs/ping", json={}, headers={**auth, "Idempotency-Key": key})
        assert answer.status_code in (202, 400)
    event = {"id": "evt_squat", "type": "payment.succeeded", "data": {"user_id": user_id, "amount": 9}}
    assert webhook(client, app, event).status_code == 202


def test_a_webhook_body_that_is_not_json_is_400(app, client):
    secret = app.extensions["conveyor"].settings.payment_webhook_secrets[0]
    body = b'{"id": "evt_1", '
    answer = client.post(WEBHOOK, data=body, headers={"Content-Type": "application/json",
                                                      "Conveyor-Signature": sign(secret, body, int(time.time()))})
    assert answer.status_code == 400 and answer.json["error"]["code"] == "malformed_json"


def test_webhook_events_we_do_not_handle_are_acknowledged_and_ignored(app, client):
    answer = webhook(client, app, {"id": "evt_x", "type": "payment.refunded", "data": {}})
    assert answer.status_code == 200 and answer.json["status"] == "ignored"


@pytest.mark.parametrize("data", [{"user_id": 999999, "amount": 5}, {"user_id": 1, "amount": 0},
                                  {"user_id": 1, "amount": 1.5}, {"user_id": "1", "amount": 5}])
def test_webhook_with_bad_data_is_422(app, client, data):
    answer = webhook(client, app, {"id": "evt_bad", "type": "payment.succeeded", "data": data})
    assert answer.status_code == 422


def in_branch(db, user_id: int, branch_id: int) -> None:
    """Move a user to a branch behind the API's back (the API's move would refuse their tokens)."""
    with db.Session.begin() as session:
        ensure_branch(session, branch_id)
        session.get(User, user_id).branch_id = branch_id


def test_refunds_and_adjustments_by_staff(app, client, db):
    user_id, auth = register(client)
    in_branch(db, user_id, 5)
    charged = wait(client, auth, "/api/v1/wallet/charges", {"amount": 30})
    transfer_id = charged["result"]["transfer_ids"][0]
    _, customer = make_user(app)
    _, manager = make_user(app, Role.manager, branch_id=5)
    _, admin = make_user(app, Role.admin)
    assert client.post("/api/v1/admin/refunds", json={"transfer_id": transfer_id, "amount": 10},
                       headers=customer).status_code == 403
    refunded = wait(client, manager, "/api/v1/admin/refunds", {"transfer_id": transfer_id, "amount": 10})
    assert refunded["status"] == "succeeded"
    too_much = wait(client, manager, "/api/v1/admin/refunds", {"transfer_id": transfer_id, "amount": 21})
    assert too_much["status"] == "failed" and too_much["error"]["code"] == "refund_exceeds_charge"
    path = f"/api/v1/admin/wallets/{user_id}/adjustments"
    assert client.post(path, json={"amount": 5, "reason": "x"}, headers=manager).status_code == 403
    assert wait(client, admin, path, {"amount": -80, "reason": "correction"})["status"] == "succeeded"
    assert client.get("/api/v1/wallet", headers=auth).json["balance"] == 0
    reconciled = wait(client, admin, "/api/v1/admin/billing/reconcile", {})
    assert reconciled["result"] == {"ok": True, "mismatches": []}


@pytest.mark.parametrize("amount", [0, -1, 1.5, "10", 10**13, None, True])
def test_malformed_amounts_are_422_and_write_nothing(client, amount):
    _, auth = register(client)
    answer = client.post("/api/v1/wallet/charges", json={"amount": amount}, headers=auth)
    assert answer.status_code == 422 and answer.json["error"]["code"] == "validation_error"
    assert client.get("/api/v1/jobs", headers=auth).json["items"] == []


def test_a_charge_idempotency_key_with_other_parameters_is_refused(app, client):
    _, auth = register(client)
    key = {"Idempotency-Key": "charge-7"}
    first = client.post("/api/v1/wallet/charges", json={"amount": 5}, headers={**auth, **key})
    same = client.post("/api/v1/wallet/charges", json={"amount": 5}, headers={**auth, **key})
    other = client.post("/api/v1/wallet/charges", json={"amount": 6}, headers={**auth, **key})
    assert (first.status_code, same.status_code, other.status_code) == (202, 200, 409)
    assert other.json["error"]["code"] == "idempotency_key_reused"
    assert wait_for_status(app, first.json["id"]).status.value == "succeeded"
    assert client.get("/api/v1/wallet", headers=auth).json["balance"] == 95


def test_a_manager_refunds_only_their_branchs_charges(app, client, db):
    user_id, auth = register(client)
    in_branch(db, user_id, 1)
    transfer_id = wait(client, auth, "/api/v1/wallet/charges", {"amount": 30})["result"]["transfer_ids"][0]
    refund = {"transfer_id": transfer_id, "amount": 10}
    for branch in (2, None):
        _, manager = make_user(app, Role.manager, branch_id=branch)
        refused = client.post("/api/v1/admin/refunds", json=refund, headers=manager)
        assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden", branch
    _, own_manager = make_user(app, Role.manager, branch_id=1)
    assert wait(client, own_manager, "/api/v1/admin/refunds", refund)["status"] == "succeeded"
    assert client.get("/api/v1/wallet", headers=auth).json["balance"] == 80
