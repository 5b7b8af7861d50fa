"""Staff and signed inputs wider than their columns are refused at the door (nothing is queued), and a
webhook's signature header is parsed defensively and may carry the signatures of several secrets."""

from __future__ import annotations

import json
import time

import pytest

from models import Job, Role, User
from services.billing.signatures import sign
from tests.support import make_user
from tests.web.test_bad_input import DEEP, LONG_NUMBER, assert_envelope, rows

WEBHOOK = "/api/v1/billing/webhooks/payments"


def deliver(app, client, body: bytes, signature: str | None = None):
    secret = app.extensions["conveyor"].settings.payment_webhook_secrets[0]
    signature = sign(secret, body, int(time.time())) if signature is None else signature
    return client.post(WEBHOOK, data=body, headers={"Content-Type": "application/json",
                                                    "Conveyor-Signature": signature})


def payment(user_id, event_id="evt_1", amount=5) -> bytes:
    return json.dumps({"id": event_id, "type": "payment.succeeded",
                       "data": {"user_id": user_id, "amount": amount}}).encode()


def test_a_branch_id_past_its_column_is_422(app, client, db):
    _, admin = make_user(app, Role.admin)
    answer = client.post("/api/v1/users", headers=admin, json={
        "email": "staff@example.com", "password": "password123", "role": "manager", "branch_id": 2**31})
    assert_envelope(answer, 422, "validation_error")
    assert rows(db, User) == 1


@pytest.mark.parametrize("path", ["/api/v1/auth/register", "/api/v1/auth/login"])
def test_a_password_with_a_lone_surrogate_is_422(client, db, path):
    answer = client.post(path, json={"email": "a@example.com", "password": "\ud800" * 8})
    assert_envelope(answer, 422, "validation_error")
    assert rows(db, User) == 0


@pytest.mark.parametrize("user_id", [2**31, 2**63, 10**30, 999_999])
def test_an_adjustment_for_a_user_who_cannot_exist_is_unknown_user(app, client, db, user_id):
    _, admin = make_user(app, Role.admin)
    answer = client.post(f"/api/v1/admin/wallets/{user_id}/adjustments", headers=admin,
                         json={"amount": 5, "reason": "goodwill"})
    assert_envelope(answer, 422, "unknown_user")
    assert rows(db, Job) == 0


@pytest.mark.parametrize("transfer_id", [2**63, 2**64])
def test_a_refund_of_a_transfer_past_its_column_is_422(app, client, db, transfer_id):
    _, admin = make_user(app, Role.admin)
    answer = client.post("/api/v1/admin/refunds", headers=admin, json={"transfer_id": transfer_id, "amount": 1})
    assert_envelope(answer, 422, "validation_error")
    assert rows(db, Job) == 0


@pytest.mark.parametrize("reason", ["\x00", "\ud800", "x" * 501])
def test_an_adjustment_reason_that_does_not_fit_is_422(app, client, db, reason):
    user_id, admin = make_user(app, Role.admin)
    answer = client.post(f"/api/v1/admin/wallets/{user_id}/adjustments", headers=admin,
                         json={"amount": 5, "reason": reason})
    assert_envelope(answer, 422, "validation_error")
    assert rows(db, Job) == 0


@pytest.mark.parametrize("body", [payment(2**31), payment(2**63), payment(1, event_id="evt\x00"),
                                  payment(1, event_id="evt\ud800")])
def test_a_webhook_wider_than_its_columns_is_422(app, client, db, body):
    make_user(app)
    assert deliver(app, client, body).status_code == 422
    assert rows(db, Job) == 0


@pytest.mark.parametrize("body", [DEEP, '{"id": "evt_1", "type": "payment.succeeded", "amount": ' + LONG_NUMBER + "}"])
def test_a_signed_webhook_body_that_json_cannot_hold_is_400(app, client, db, body):
    assert_envelope(deliver(app, client, body.encode()), 400, "malformed_json")
    assert rows(db, Job) == 0


@pytest.mark.parametrize("signature", [
    "t={now},v1=é" + "0" * 63, "t={now},v1=\u00ff", "t=" + "9" * 400 + ",v1=" + "0" * 64,
    "t=-{now},v1=" + "0" * 64, "t=1e9,v1=" + "0" * 64, "t={now}", "v1=" + "0" * 64, "", "t,v1",
])
def test_a_malformed_signature_header_is_400(app, client, db, signature):
    user_id, _ = make_user(app)
    answer = deliver(app, client, payment(user_id), signature.format(now=int(time.time())))
    assert_envelope(answer, 400, "invalid_signature")
    assert rows(db, Job) == 0


def test_a_webhook_signed_by_any_configured_secret_is_accepted(make_app, db):
    rotated = make_app(PAYMENT_WEBHOOK_SECRET="the-old-secret-0123456789,the-new-secret-0123456789")
    client = rotated.test_client()
    user_id, _ = make_user(rotated)
    now = int(time.time())
    for n, secret in enumerate(("the-old-secret-0123456789", "the-new-secret-0123456789")):
        body = payment(user_id, event_id=f"evt_{n}")
        assert deliver(rotated, client, body, sign(secret, body, now)).status_code == 202
    body = payment(user_id, event_id="evt_both")
    both = f"t={now},v1={'0' * 64},{sign('the-new-secret-0123456789', body, now).split(',')[1]}"
    assert deliver(rotated, client, body, both).status_code == 202
    body = payment(user_id, event_id="evt_neither")
    assert deliver(rotated, client, body, sign("another-secret-0123456789", body, now)).status_code == 400
    assert rows(db, Job) == 3
