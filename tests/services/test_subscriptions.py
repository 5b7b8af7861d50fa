"""Subscriptions on one transaction per test: the first grant, the expiry rule (holds and purchased
credits untouched, rollover caps), upgrades, downgrades and cancellations mid-period, catch-up, and
reconciliation."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from models import LedgerOperation, Period, Subscription, SubscriptionStatus
from services import billing
from services.auth import create_user
from services.errors import DomainError
from services.subscriptions import changes
from services.subscriptions.periods import boundary
from services.subscriptions.refresh import refresh_batch
from tests.subscription_support import bare_user, seed_tiers, utc
from tests.support import PASSWORD_HASH

FEB = utc(2026, 2, 1)  # a 28-day month


@pytest.fixture
def tiers(session):
    return seed_tiers(session)


def new_user(session) -> int:
    return create_user(session, f"{uuid.uuid4().hex[:8]}@example.com", PASSWORD_HASH).id


@pytest.fixture
def subscriber(session):
    """A user who joined `tier` at `now`."""

    def make(tier, now=FEB) -> int:
        user_id = bare_user(session)
        changes.start(session, user_id, tier, now=now)
        return user_id

    return make


def granted(session, user_id) -> tuple[int, int]:
    wallet = billing.wallet(session, user_id)
    return wallet["granted"], wallet["held"]


def refresh_keys(session, user_id) -> list[str]:
    return list(session.scalars(select(LedgerOperation.idempotency_key).where(
        LedgerOperation.user_id == user_id, LedgerOperation.idempotency_key.startswith("refresh:"))
        .order_by(LedgerOperation.idempotency_key)))


def test_a_registration_starts_on_the_free_tier_with_its_first_grant(session, tiers):
    user_id = new_user(session)
    subscription = session.scalar(select(Subscription).where(Subscription.user_id == user_id))
    assert subscription.tier_id == tiers["free"].id and subscription.status == SubscriptionStatus.active
    assert subscription.period_start == subscription.anchor_at
    assert subscription.period_end == boundary(subscription.anchor_at, Period.monthly, 1)
    assert billing.wallet(session, user_id)["granted"] == 100
    assert refresh_keys(session, user_id) == [f"refresh:{subscription.id}:{subscription.period_start.isoformat()}"]
    assert billing.reconcile(session) == []


def test_expiry_never_takes_held_or_purchased_credits(session, tiers, subscriber):
    user_id = subscriber(tiers["basic"])  # 2000 a month, no rollover
    billing.charge(session, user_id, 500, key="c-1")
    billing.hold(session, user_id, 1200, key="h-1")
    billing.top_up(session, user_id, 1000, event_id="evt-1")
    outcome = refresh_batch(session, utc(2026, 3, 1), 100)
    assert outcome.refreshed == 1 and outcome.expired == {"basic": 300} and outcome.granted == {"basic": 2000}
    # 2000 - 500 spent - 300 expired (all that was available) + 2000; the 1200 held stay; purchased untouched.
    assert billing.wallet(session, user_id) == {"balance": 4200, "available": 3000, "held": 1200, "granted": 3200,
                                                 "purchased": 1000, "currency": "credits"}
    assert billing.reconcile(session) == []


def test_only_the_periods_grant_expires_and_other_granted_credits_stay(session, tiers, subscriber):
    user_id = subscriber(tiers["basic"])
    billing.grant_signup_bonus(session, user_id, 100)
    refresh_batch(session, utc(2026, 3, 1), 100)
    assert granted(session, user_id) == (2100, 0)  # 2000 expired, 2000 granted, the bonus kept


def test_rollover_keeps_up_to_the_cap_and_never_piles_up(session, tiers, subscriber):
    idle, busy = subscriber(tiers["premium"]), subscriber(tiers["premium"])  # 20000 a month, cap 10000
    billing.charge(session, busy, 15_000, key="c-1")
    refresh_batch(session, utc(2026, 3, 1), 100)
    assert granted(session, idle) == (30_000, 0)  # 10000 kept, 20000 new
    assert granted(session, busy) == (25_000, 0)  # 5000 left is within the cap: nothing expired
    refresh_batch(session, utc(2026, 4, 1), 100)
    assert granted(session, idle) == (30_000, 0)  # 20000 expired down to the cap, 20000 new
    assert billing.reconcile(session) == []


def test_an_upgrade_grants_the_difference_pro_rata_floored(session, tiers, subscriber):
    user_id = subscriber(tiers["basic"])
    result = changes.change_tier(session, user_id, tiers["premium"].id, now=utc(2026, 2, 19), reference="r-1")
    # 10 of 28 days left: floor(18000 x 10 / 28) = floor(6428.57)
    assert result["action"] == "upgraded" and result["granted"] == 6428
    assert granted(session, user_id) == (8428, 0)
    assert changes.change_tier(session, user_id, tiers["premium"].id, now=utc(2026, 2, 20), reference="r-1") == result
    assert granted(session, user_id) == (8428, 0)
    subscription = session.scalar(select(Subscription).where(Subscription.user_id == user_id))
    assert subscription.tier_id == tiers["premium"].id and subscription.period_granted == 8428


def test_a_downgrade_waits_for_the_next_period_and_the_ending_tiers_rollover_applies(session, tiers, subscriber):
    user_id = subscriber(tiers["premium"])
    result = changes.change_tier(session, user_id, tiers["basic"].id, now=utc(2026, 2, 10), reference="r-1")
    assert result["action"] == "downgrade_scheduled" and result["effective_at"] == utc(2026, 3, 1).isoformat()
    assert granted(session, user_id) == (20_000, 0)
    refresh_batch(session, utc(2026, 3, 1), 100)
    subscription = session.scalar(select(Subscription).where(Subscription.user_id == user_id))
    assert subscription.tier_id == tiers["basic"].id and subscription.next_tier_id is None
    assert granted(session, user_id) == (12_000, 0)  # premium's cap kept 10000; basic grants 2000


def test_cancelling_stops_grants_and_the_grant_expires_at_the_periods_end(session, tiers, subscriber):
    user_id = subscriber(tiers["basic"])
    assert changes.cancel(session, user_id, now=utc(2026, 2, 10), reference="r-1")["action"] == "cancelled"
    assert granted(session, user_id) == (2000, 0)  # kept until the period ends
    assert refresh_batch(session, utc(2026, 3, 1), 100).refreshed == 1
    assert granted(session, user_id) == (0, 0)
    assert refresh_batch(session, utc(2026, 4, 1), 100).refreshed == 0  # nothing left to expire
    restarted = changes.change_tier(session, user_id, tiers["basic"].id, now=utc(2026, 4, 5), reference="r-2")
    assert restarted["action"] == "restarted" and granted(session, user_id) == (2000, 0)
    assert billing.reconcile(session) == []


def test_after_downtime_a_subscription_catches_up_with_one_grant_for_the_current_period(session, tiers,
                                                                                         subscriber):
    user_id = subscriber(tiers["daily"], now=utc(2026, 1, 1))  # 50 a day
    billing.charge(session, user_id, 20, key="c-1")
    assert refresh_batch(session, utc(2026, 1, 4, 12), 100).expired == {"daily": 30}
    subscription = session.scalar(select(Subscription).where(Subscription.user_id == user_id))
    assert (subscription.period_start, subscription.period_end) == (utc(2026, 1, 4), utc(2026, 1, 5))
    assert granted(session, user_id) == (50, 0)
    assert refresh_keys(session, user_id) == [f"refresh:{subscription.id}:{utc(2026, 1, 1).isoformat()}",
                                              f"refresh:{subscription.id}:{utc(2026, 1, 4).isoformat()}"]
    assert refresh_batch(session, utc(2026, 1, 4, 13), 100).refreshed == 0
    assert billing.reconcile(session) == []


def test_reconciliation_finds_an_active_subscription_without_its_periods_grant(session, tiers, subscriber):
    subscriber(tiers["basic"])
    session.execute(Subscription.__table__.update().values(period_start=utc(2026, 2, 2)))
    assert [m["check"] for m in billing.reconcile(session)] == ["current_period_granted"]


def test_a_change_to_an_unknown_tier_is_refused(session, tiers, subscriber):
    user_id = subscriber(tiers["basic"])
    with pytest.raises(DomainError) as refused:
        changes.change_tier(session, user_id, 999_999, now=FEB, reference="r-1")
    assert refused.value.code == "unknown_tier"
    assert session.scalar(select(func.count()).select_from(LedgerOperation)
                          .where(LedgerOperation.idempotency_key == "subscription-change:r-1")) == 1
