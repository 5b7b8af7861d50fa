"""Beat's billing work: expired holds are voided once; the nightly reconciliation is a system job made
once however many beats ask, and reports to /metrics."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import update

from models import Account, AccountKind, HoldState, JobStatus, LedgerOperation, Role
from services import billing
from services.auth import create_user
from tasks.beat import expire_holds, start_job
from tests.support import PASSWORD_HASH, make_user, wait_for_status


def funded_user(db, credits: int) -> int:
    with db.Session.begin() as s:
        user = create_user(s, f"{uuid.uuid4().hex[:8]}@example.com", PASSWORD_HASH).id
        billing.grant_signup_bonus(s, user, credits)
    return user


def test_expired_holds_are_voided_and_only_those(app, db):
    user = funded_user(db, 100)
    with db.Session.begin() as s:
        stale = billing.hold(s, user, 30, key="h-stale", ttl=timedelta(seconds=-1))["hold_id"]
        fresh = billing.hold(s, user, 20, key="h-fresh")["hold_id"]
    with app.app_context():
        assert expire_holds() == 1
        assert expire_holds() == 0
    with db.Session.begin() as s:
        assert s.get(LedgerOperation, uuid.UUID(stale)).state == HoldState.voided
        assert s.get(LedgerOperation, uuid.UUID(fresh)).state == HoldState.open
        assert billing.wallet(s, user)["available"] == 80
        assert billing.reconcile(s) == []


def test_the_nightly_reconciliation_is_one_system_job_however_many_beats_ask(app, db, client, worker, metrics_auth):
    user = funded_user(db, 10)
    with app.app_context():
        job_ids = {start_job("billing.reconcile", {}) for _ in range(2)}  # two beats, same minute
    assert len(job_ids) == 1
    job = wait_for_status(app, job_ids.pop())
    assert (job.status, job.owner_id, job.attempts) == (JobStatus.succeeded, None, 1)
    assert job.result == {"ok": True, "mismatches": []}
    assert "conveyor_ledger_mismatches 0.0" in client.get("/metrics", headers=metrics_auth).get_data(as_text=True)

    _, customer = make_user(app)
    _, admin = make_user(app, Role.admin)
    assert client.get(f"/api/v1/jobs/{job.id}", headers=customer).status_code == 404
    assert client.post(f"/api/v1/jobs/{job.id}/cancel", headers=customer).status_code == 404
    assert client.get(f"/api/v1/jobs/{job.id}", headers=admin).json["owner_id"] is None

    with db.Session.begin() as s:
        s.execute(update(Account).where(Account.owner_id == user, Account.kind == AccountKind.granted)
                  .values(balance=Account.balance + 1))
    answer = client.post("/api/v1/admin/billing/reconcile", headers={**admin, "Prefer": "wait=10"})
    assert len(answer.json["result"]["mismatches"]) == 2
    assert "conveyor_ledger_mismatches 2.0" in client.get("/metrics", headers=metrics_auth).get_data(as_text=True)
