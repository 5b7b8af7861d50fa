"""The ledger's services on one transaction per test: movements, idempotency, holds, refunds, invariants."""

from __future__ import annotations

from tests.support import PASSWORD_HASH

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services import billing
from services.auth import create_user
from services.errors import Conflict, DomainError


@pytest.fixture
def user(session):
    return create_user(session, f"{uuid.uuid4().hex[:8]}@example.com", PASSWORD_HASH).id


def test_signup_bonus_then_charge_takes_granted_first(session, user):
    billing.grant_signup_bonus(session, user, 100)
    billing.top_up(session, user, 50, event_id="evt-1")
    result = billing.charge(session, user, 120, key="c-1")
    assert billing.wallet(session, user) == {"balance": 30, "available": 30, "held": 0, "granted": 0,
                                              "purchased": 30, "currency": "credits"}
    assert len(result["transfer_ids"]) == 2
    assert billing.reconcile(session) == []


def test_a_short_wallet_moves_nothing(session, user):
    billing.grant_signup_bonus(session, user, 10)
    with pytest.raises(billing.InsufficientFunds) as refused:
        billing.charge(session, user, 11, key="c-1")
    assert refused.value.code == "insufficient_funds"
    assert billing.wallet(session, user)["balance"] == 10


def test_the_same_key_returns_the_first_result_and_other_parameters_are_refused(session, user):
    billing.grant_signup_bonus(session, user, 100)
    first = billing.charge(session, user, 10, key="c-1")
    assert billing.charge(session, user, 10, key="c-1") == first
    with pytest.raises(Conflict) as refused:
        billing.charge(session, user, 11, key="c-1")
    assert refused.value.code == "idempotency_key_reused"
    assert billing.wallet(session, user)["balance"] == 90


def test_a_payment_event_credits_once(session, user):
    for _ in range(3):
        billing.top_up(session, user, 25, event_id="evt-9")
    assert billing.wallet(session, user)["purchased"] == 25


def test_hold_capture_posts_the_actual_and_releases_the_rest(session, user):
    billing.grant_signup_bonus(session, user, 100)
    held = billing.hold(session, user, 60, key="h-1", reference="llm call")
    assert billing.wallet(session, user) | {} == {"balance": 100, "available": 40, "held": 60, "granted": 100,
                                                   "purchased": 0, "currency": "credits"}
    with pytest.raises(billing.InsufficientFunds):
        billing.charge(session, user, 41, key="c-1")
    captured = billing.capture(session, uuid.UUID(held["hold_id"]), 25)
    assert captured["captured"] == 25 and captured["released"] == 35
    assert billing.wallet(session, user)["available"] == 75
    assert billing.capture(session, uuid.UUID(held["hold_id"]), 25) == captured  # idempotent
    with pytest.raises(Conflict) as other_amount:
        billing.capture(session, uuid.UUID(held["hold_id"]), 26)
    assert other_amount.value.code == "hold_already_resolved"
    with pytest.raises(DomainError) as again:
        billing.void(session, uuid.UUID(held["hold_id"]))
    assert again.value.code == "hold_already_resolved"
    assert billing.reconcile(session) == []


def test_a_capture_may_not_exceed_its_hold(session, user):
    billing.grant_signup_bonus(session, user, 100)
    held = billing.hold(session, user, 10, key="h-1")
    with pytest.raises(DomainError) as refused:
        billing.capture(session, uuid.UUID(held["hold_id"]), 11)
    assert refused.value.code == "capture_exceeds_hold"


def test_void_releases_everything_once(session, user):
    billing.grant_signup_bonus(session, user, 100)
    held = billing.hold(session, user, 70, key="h-1")
    billing.void(session, uuid.UUID(held["hold_id"]))
    assert billing.wallet(session, user)["available"] == 100
    with pytest.raises(DomainError):
        billing.capture(session, uuid.UUID(held["hold_id"]), 1)
    assert billing.reconcile(session) == []


def test_refunds_return_at_most_the_charge_to_where_it_came_from(session, user):
    billing.grant_signup_bonus(session, user, 100)
    billing.top_up(session, user, 100, event_id="evt-1")
    split = billing.charge(session, user, 150, key="c-1")  # 100 granted + 50 purchased
    purchased_leg = split["transfer_ids"][1]
    billing.refund(session, purchased_leg, 30, key="r-1")
    billing.refund(session, purchased_leg, 20, key="r-2")
    with pytest.raises(DomainError) as refused:
        billing.refund(session, purchased_leg, 1, key="r-3")
    assert refused.value.code == "refund_exceeds_charge"
    assert billing.wallet(session, user) | {} == {"balance": 100, "available": 100, "held": 0, "granted": 0,
                                                   "purchased": 100, "currency": "credits"}
    assert billing.reconcile(session) == []


def test_negative_adjustments_never_overdraw(session, user):
    billing.grant_signup_bonus(session, user, 5)
    billing.adjust(session, user, 10, reason="goodwill", key="a-1")
    billing.adjust(session, user, -15, reason="correction", key="a-2")
    with pytest.raises(billing.InsufficientFunds):
        billing.adjust(session, user, -1, reason="too far", key="a-3")
    assert billing.wallet(session, user)["balance"] == 0


def test_reconcile_finds_a_tampered_balance(session, user):
    from sqlalchemy import update

    from models import Account

    billing.grant_signup_bonus(session, user, 100)
    session.execute(update(Account).where(Account.owner_id == user).values(balance=Account.balance + 1))
    checks = {m["check"] for m in billing.reconcile(session)}
    assert checks == {"balances_sum_to_zero", "balance_equals_posted_transfers"}


operations = st.lists(st.one_of(
    st.tuples(st.just("bonus"), st.integers(1, 50)),
    st.tuples(st.just("topup"), st.integers(1, 50)),
    st.tuples(st.just("charge"), st.integers(1, 80)),
    st.tuples(st.just("refund"), st.integers(1, 30)),
    st.tuples(st.just("hold"), st.integers(1, 80)),
    st.tuples(st.just("capture"), st.integers(0, 80)),
    st.tuples(st.just("void"), st.integers(0, 0)),
), max_size=25)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=operations)
def test_any_sequence_of_operations_keeps_every_invariant(db, steps):
    with db.Session() as session:
        session.begin()
        user = create_user(session, f"{uuid.uuid4().hex}@example.com", PASSWORD_HASH).id
        charges, holds = [], []
        for n, (op, amount) in enumerate(steps):
            try:
                with session.begin_nested():
                    if op == "bonus":
                        billing.adjust(session, user, amount, reason="bonus", key=f"b{n}")
                    elif op == "topup":
                        billing.top_up(session, user, amount, event_id=f"e{n}")
                    elif op == "charge":
                        charges += billing.charge(session, user, amount, key=f"c{n}")["transfer_ids"]
                    elif op == "refund" and charges:
                        billing.refund(session, charges[n % len(charges)], amount, key=f"r{n}")
                    elif op == "hold":
                        holds.append(uuid.UUID(billing.hold(session, user, amount, key=f"h{n}")["hold_id"]))
                    elif op == "capture" and holds:
                        billing.capture(session, holds[n % len(holds)], amount)
                    elif op == "void" and holds:
                        billing.void(session, holds[n % len(holds)])
            except DomainError:
                pass  # refused operations must leave no trace: the invariants below check it
            assert billing.reconcile(session) == [], (n, op, amount)
            assert billing.wallet(session, user)["available"] >= 0
        session.rollback()


def test_reconcile_finds_a_captured_hold_that_claims_to_be_open(session, user):
    from sqlalchemy import update

    from models import HoldState, LedgerOperation

    billing.grant_signup_bonus(session, user, 100)
    held = billing.hold(session, user, 10, key="h-1")
    billing.capture(session, uuid.UUID(held["hold_id"]), 5)
    session.execute(update(LedgerOperation).where(LedgerOperation.id == uuid.UUID(held["hold_id"]))
                    .values(state=HoldState.open))
    found = billing.reconcile(session)
    assert [m["check"] for m in found] == ["hold_resolved_once"]
    assert "open but already captured or released" in found[0]["problems"]


def test_a_managers_refund_is_checked_against_the_payers_branch_inside_the_job(session, user):
    from models import User
    from tests.support import ensure_branch

    ensure_branch(session, 1)
    session.get(User, user).branch_id = 1
    billing.grant_signup_bonus(session, user, 100)
    charged = billing.charge(session, user, 40, key="c-1")["transfer_ids"][0]
    with pytest.raises(DomainError) as refused:
        billing.refund(session, charged, 10, key="r-1", branch_id=2)
    assert refused.value.code == "forbidden"
    assert billing.refund(session, charged, 10, key="r-2", branch_id=1)["amount"] == 10
    assert billing.wallet(session, user)["balance"] == 70


def test_concurrent_holds_captures_and_charges_on_a_split_wallet_never_deadlock_nor_overdraw(db):
    """Holds and charges lock the user's accounts; captures and voids do not, and may span both
    accounts: 4 threads on one wallet, each operation its own transaction, meet no deadlock, and the
    books balance. Too few credits for all: some are refused, none goes below zero."""
    import threading

    with db.Session.begin() as session:
        user = create_user(session, f"{uuid.uuid4().hex[:8]}@example.com", PASSWORD_HASH).id
        billing.grant_signup_bonus(session, user, 30)
        billing.top_up(session, user, 30, event_id=f"split-{user}")
    errors: list[Exception] = []

    def spend(worker: int) -> None:
        for n in range(12):
            key = f"split-{worker}-{n}"
            try:
                with db.Session.begin() as session:
                    if n % 3 == 2:
                        billing.charge(session, user, 2, key=key)
                        continue
                    hold_id = uuid.UUID(billing.hold(session, user, 7, key=key)["hold_id"])
                with db.Session.begin() as session:
                    if n % 3 == 0:
                        billing.capture(session, hold_id, 5)
                    else:
                        billing.void(session, hold_id)
            except DomainError as exc:
                assert exc.code == "insufficient_funds", exc.code
            except Exception as exc:  # a deadlock or anything else: the test's failure
                errors.append(exc)

    threads = [threading.Thread(target=spend, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.Session.begin() as session:
        assert billing.reconcile(session) == []
        wallet = billing.wallet(session, user)
        assert wallet["held"] == 0 and 0 <= wallet["available"] <= 60


def test_accounts_and_holds_a_caller_loaded_are_current_after_the_ledger_moves_them(session, user):
    """The ledger writes with plain SQL: objects the caller's session already holds must not go stale."""
    from sqlalchemy import select

    from models import Account, AccountKind, HoldState, LedgerOperation

    billing.top_up(session, user, 50, event_id=f"stale-{user}")
    purchased = session.scalar(select(Account).where(Account.owner_id == user,
                                                     Account.kind == AccountKind.purchased))
    hold_id = uuid.UUID(billing.hold(session, user, 20, key="stale-h")["hold_id"])
    assert (purchased.balance, purchased.pending) == (50, 20)
    held = session.get(LedgerOperation, hold_id)
    billing.capture(session, hold_id, 5)
    assert (purchased.balance, purchased.pending) == (45, 0) and held.state == HoldState.captured
