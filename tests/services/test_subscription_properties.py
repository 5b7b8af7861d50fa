"""Random sequences of refreshes, charges, holds, top-ups, tier changes and cancellations keep every
ledger invariant: the books reconcile after each step (refresh grants included: one per active
subscription's period, none twice), and a refresh never touches purchased or held credits and never
expires more than the ending period granted."""

from __future__ import annotations

import uuid
from datetime import timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from models import Account, AccountKind, Subscription
from services import billing
from services.errors import DomainError
from services.subscriptions import changes
from services.subscriptions.refresh import refresh_batch
from tests.subscription_support import SEEDS, bare_user, seed_tiers, utc

USERS = 3
user = st.integers(0, USERS - 1)
steps = st.lists(st.one_of(
    st.tuples(st.just("refresh"), st.integers(0, 40)),  # days the clock moves on first
    st.tuples(st.just("charge"), user, st.integers(1, 3000)),
    st.tuples(st.just("hold"), user, st.integers(1, 3000)),
    st.tuples(st.just("resolve"), st.integers(0, 20), st.booleans()),  # capture half, or void
    st.tuples(st.just("topup"), user, st.integers(1, 5000)),
    st.tuples(st.just("tier"), user, st.sampled_from(sorted(SEEDS))),
    st.tuples(st.just("cancel"), user),
), min_size=3, max_size=16)


def snapshot(session, user_ids) -> dict[int, dict]:
    """Each user's accounts as {kind: (balance, pending)} and their subscription's grant this period."""
    session.expire_all()
    found = {u: {} for u in user_ids}
    for account in session.scalars(select(Account).where(Account.owner_id.in_(user_ids))):
        found[account.owner_id][account.kind] = (account.balance, account.pending)
    for sub in session.scalars(select(Subscription).where(Subscription.user_id.in_(user_ids))):
        found[sub.user_id]["period"] = (sub.period_start, sub.period_granted)
    return found


def run_step(session, tiers, users, holds, clock, step) -> None:
    kind, key = step[0], uuid.uuid4().hex
    clock[0] += timedelta(minutes=1)  # time passes between steps
    if kind == "refresh":
        clock[0] += timedelta(days=step[1])
        before = snapshot(session, users)
        refresh_batch(session, clock[0], 2)  # small batches: a refresh of all three takes two
        refresh_batch(session, clock[0], 2)
        after = snapshot(session, users)
        for u in users:
            assert after[u][AccountKind.purchased] == before[u][AccountKind.purchased]
            assert after[u][AccountKind.granted][1] == before[u][AccountKind.granted][1]  # held untouched
            (was, granted_before), (now, granted_after) = before[u]["period"], after[u]["period"]
            expired = before[u][AccountKind.granted][0] - after[u][AccountKind.granted][0]
            if now != was:
                expired += granted_after
            assert 0 <= expired <= granted_before  # only the ending period's grant may expire
    elif kind == "charge":
        billing.charge(session, users[step[1]], step[2], key=key)
    elif kind == "hold":
        holds.append(uuid.UUID(billing.hold(session, users[step[1]], step[2], key=key)["hold_id"]))
    elif kind == "resolve":
        if not holds:
            return
        hold_id = holds[step[1] % len(holds)]
        billing.capture(session, hold_id, 1) if step[2] else billing.void(session, hold_id)
    elif kind == "topup":
        billing.top_up(session, users[step[1]], step[2], event_id=key)
    elif kind == "tier":
        changes.change_tier(session, users[step[1]], tiers[step[2]].id, now=clock[0], reference=key)
    else:
        changes.cancel(session, users[step[1]], now=clock[0], reference=key)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps, start=st.lists(st.sampled_from(sorted(SEEDS)), min_size=USERS, max_size=USERS))
def test_any_mix_of_refreshes_charges_holds_topups_and_tier_changes_keeps_the_ledger_whole(db, steps, start):
    with db.Session() as session:
        session.begin()
        tiers, clock = seed_tiers(session), [utc(2026, 1, 31, 23, 59, 59, 999000)]
        users = [bare_user(session) for _ in range(USERS)]
        for user_id, name in zip(users, start):
            changes.start(session, user_id, tiers[name], now=clock[0])
        holds: list = []
        for step in steps:
            try:
                with session.begin_nested():
                    run_step(session, tiers, users, holds, clock, step)
                event(f"{step[0]}: done")
            except DomainError as exc:
                event(f"{step[0]}: refused, {exc.code}")
            assert billing.reconcile(session) == [], step
        session.rollback()
