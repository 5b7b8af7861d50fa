"""Beat's billing work, run by hand: expired holds are voided once; reconciliation reports to /metrics."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import update

from models import Account, AccountKind, HoldState, LedgerOperation
from services import billing
from services.auth import create_user
from tasks.billing import expire_holds, reconcile_nightly


def funded_user(db, credits: int) -> int:
    with db.Session.begin() as s:
        user = create_user(s, f"{uuid.uuid4().hex[:8]}@example.com", "password123").id
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


def test_nightly_reconciliation_sets_the_mismatch_gauge(app, db, client):
    user = funded_user(db, 10)
    with app.app_context():
        assert reconcile_nightly() == 0
    assert "conveyor_ledger_mismatches 0.0" in client.get("/metrics").get_data(as_text=True)
    with db.Session.begin() as s:
        s.execute(update(Account).where(Account.owner_id == user, Account.kind == AccountKind.granted)
                  .values(balance=Account.balance + 1))
    with app.app_context():
        assert reconcile_nightly() == 2
    assert "conveyor_ledger_mismatches 2.0" in client.get("/metrics").get_data(as_text=True)
