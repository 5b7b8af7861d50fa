"""Billing under concurrency and crashes, with real worker processes."""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import func, select, text

from models import JobStatus, LedgerOperation, TransferKind
from services import billing
from services.billing.signatures import sign
from tests.conftest import TEST_ENV
from tests.support import register, requeue_after_lease, wait_for_status


def test_200_one_credit_charges_against_150_credits_on_two_workers(app, db, client, worker_processes):
    user_id, auth = register(client)  # 100 credits of signup bonus
    with db.Session.begin() as s:
        billing.top_up(s, user_id, 50, event_id="seed")
    ids = [client.post("/api/v1/wallet/charges", json={"amount": 1}, headers=auth).json["id"] for _ in range(200)]
    worker_processes(concurrency=2, queues="billing")
    worker_processes(concurrency=2, queues="billing")
    jobs = [wait_for_status(app, job_id, timeout=120) for job_id in ids]

    succeeded = [j for j in jobs if j.status == JobStatus.succeeded]
    failed = [j for j in jobs if j.status == JobStatus.failed]
    assert len(succeeded) == 150 and len(failed) == 50
    assert {j.error["code"] for j in failed} == {"insufficient_funds"}
    assert client.get("/api/v1/wallet", headers=auth).json["balance"] == 0
    with db.Session.begin() as s:
        assert billing.reconcile(s) == []


def test_the_same_webhook_event_sent_concurrently_credits_once(app, db, client, worker_processes):
    user_id, auth = register(client)
    body = json.dumps({"id": "evt_race", "type": "payment.succeeded",
                       "data": {"user_id": user_id, "amount": 70}}).encode()
    secret = app.extensions["conveyor"].settings.payment_webhook_secrets[0]
    barrier, answers = threading.Barrier(6), []

    def deliver():
        headers = {"Content-Type": "application/json", "Conveyor-Signature": sign(secret, body, int(time.time()))}
        barrier.wait()
        answers.append(app.test_client().post("/api/v1/billing/webhooks/payments", data=body, headers=headers))

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers) == [200] * 5 + [202]
    assert len({a.json["id"] for a in answers}) == 1
    worker_processes(queues="billing")
    wait_for_status(app, answers[0].json["id"], timeout=30)
    assert client.get("/api/v1/wallet", headers=auth).json["purchased"] == 70
    with db.Session.begin() as s:
        assert s.scalar(select(func.count()).select_from(LedgerOperation)
                        .where(LedgerOperation.kind == TransferKind.topup)) == 1


@pytest.mark.skipif(TEST_ENV["DATABASE_URL"].startswith("sqlite"),
                    reason="SQLite has one writer: no transaction can be held open half-way through a charge")
def test_a_worker_killed_in_the_middle_of_a_charge_charges_exactly_once(app, db, client, worker_processes):
    user_id, auth = register(client)
    blocker = db.engine.connect()
    blocker.begin()
    # Reads still pass, row locks wait: the charge gets as far as locking the wallet, and stops there.
    blocker.execute(text("LOCK TABLE accounts IN EXCLUSIVE MODE"))
    victim = worker_processes(queues="billing")
    job_id = client.post("/api/v1/wallet/charges", json={"amount": 30}, headers=auth).json["id"]
    wait_for_status(app, job_id, {"running"}, timeout=30)
    time.sleep(0.5)
    victim.kill9()
    blocker.rollback()
    blocker.close()

    requeue_after_lease(app)
    worker_processes(queues="billing")
    job = wait_for_status(app, job_id, timeout=30)
    assert job.status == JobStatus.succeeded and job.attempts == 2
    assert client.get("/api/v1/wallet", headers=auth).json["balance"] == 70
    with db.Session.begin() as s:
        assert s.scalar(select(func.count()).select_from(LedgerOperation)
                        .where(LedgerOperation.kind == TransferKind.charge)) == 1
        assert billing.reconcile(s) == []
