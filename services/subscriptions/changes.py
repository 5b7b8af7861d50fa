"""Starting, changing and cancelling a user's subscription.

- An upgrade (a tier granting at least as much per period, same period length) takes effect at once
  and grants the difference pro rata to the time left: floor((new - old) x remaining / period length),
  in whole microseconds, so a user is never granted a fraction the period does not owe.
- A downgrade (less per period) waits for the next period (`next_tier_id`); the refresh applies it.
- The same tier renews: a waiting downgrade is dropped; a cancelled or past-due subscription restarts.
- A tier of another period length, or a subscription that is not active, restarts now: the unused
  grant expires by the usual rule (services/subscriptions/grants.py), the new tier's whole allowance is
  granted, and the new anchor is now.
- Cancelling stops future grants; what was granted stays until the period ends, then expires.

Each change is recorded as a ledger operation keyed `subscription-change:<reference>` (its amount
is the pro-rata grant, 0 otherwise), so a replayed reference (a webhook event, a purchase) answers
its first outcome and changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import AccountKind, LedgerOperation, Subscription, SubscriptionStatus, Tier, TransferKind
from services.billing.ledger import Leg, apply, begin_operation, lock_user
from services.errors import NotFound
from services.subscriptions.grants import GRANTS, count_after_commit, renew
from services.subscriptions.periods import period_containing
from services.subscriptions.terms import DEFAULT_TIER

MICROSECOND = timedelta(microseconds=1)


def subscription_of(session: Session, user_id: int, *, lock: bool = False) -> Subscription | None:
    stmt = select(Subscription).where(Subscription.user_id == user_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalar(stmt)


def start(session: Session, user_id: int, tier: Tier, *, now: datetime) -> Subscription:
    """A new subscription anchored now, with its first period's grant."""
    _, end = period_containing(now, tier.period, now)
    subscription = Subscription(user_id=user_id, tier_id=tier.id, status=SubscriptionStatus.active, anchor_at=now,
                                period_start=now, period_end=end, period_granted=0)
    session.add(subscription)
    session.flush()
    renew(session, subscription, tier, tier, now, end)
    return subscription


def start_default(session: Session, user_id: int, *, now: datetime) -> Subscription | None:
    """Registration: the `free` tier; none if that tier was removed from the database."""
    tier = session.scalar(select(Tier).where(Tier.name == DEFAULT_TIER))
    return start(session, user_id, tier, now=now) if tier is not None else None


def _tier(session: Session, tier_id: int) -> Tier:
    tier = session.get(Tier, tier_id)
    if tier is None or not tier.active:
        raise NotFound("no such tier", code="unknown_tier", status=422, details={"tier_id": tier_id})
    return tier


def _restart(session: Session, subscription: Subscription, tier: Tier, now: datetime) -> dict:
    ending = session.get_one(Tier, subscription.tier_id)
    subscription.status, subscription.cancelled_at, subscription.next_tier_id = SubscriptionStatus.active, None, None
    subscription.anchor_at = now
    _, end = period_containing(now, tier.period, now)
    return renew(session, subscription, ending, tier, now, end)


def _upgrade(session: Session, operation, subscription: Subscription, current: Tier, tier: Tier,
             now: datetime) -> tuple[int, list[Leg], set[int]]:
    """Move to `tier` now and grant the difference pro rata to what is left of the period (floored):
    the amount, and the grant's leg and the user accounts it moves, for the change's operation."""
    length = subscription.period_end - subscription.period_start
    left = min(max(subscription.period_end - now, timedelta(0)), length)
    amount = (tier.credits_per_period - current.credits_per_period) * (left // MICROSECOND) // (length // MICROSECOND)
    legs, users = [], set()
    if amount:
        locked = lock_user(session, subscription.user_id, GRANTS)
        legs = [Leg(locked.system_id, locked.accounts[AccountKind.granted].id, amount, TransferKind.grant,
                    description=f"upgrade to {tier.name}, pro rata")]
        users = locked.ids
        session.execute(update(LedgerOperation).where(LedgerOperation.id == operation.id).values(amount=amount))
        count_after_commit(session, [(tier.name, amount, 0)])
    subscription.tier_id, subscription.next_tier_id = tier.id, None
    subscription.period_granted += amount
    return amount, legs, users


def change_tier(session: Session, user_id: int, tier_id: int, *, now: datetime, reference: str) -> dict:
    """Upgrade now (pro rata), downgrade at the next period, same tier renews; once per `reference`."""
    operation, done = begin_operation(session, key=f"subscription-change:{reference}", kind=TransferKind.grant,
                                      user_id=user_id, amount=0, params={"user_id": user_id, "tier_id": tier_id})
    if done:
        return operation.result
    tier = _tier(session, tier_id)
    subscription = subscription_of(session, user_id, lock=True)
    granted, effective, legs, users = 0, now, [], set()
    if subscription is None:
        subscription = start(session, user_id, tier, now=now)
        action, granted = "started", tier.credits_per_period
    else:
        current = session.get_one(Tier, subscription.tier_id)
        if subscription.status != SubscriptionStatus.active or tier.period != current.period:
            action, granted = "restarted", _restart(session, subscription, tier, now)["granted"]
        elif tier.id == current.id:
            action, subscription.next_tier_id = "renewed", None
        elif tier.credits_per_period >= current.credits_per_period:
            action = "upgraded"
            granted, legs, users = _upgrade(session, operation, subscription, current, tier, now)
        else:
            action, subscription.next_tier_id, effective = "downgrade_scheduled", tier.id, subscription.period_end
    return apply(session, operation, legs, users=users, subscription_id=subscription.id, action=action,
                 tier_id=tier.id, granted=granted, effective_at=effective.isoformat())


def cancel(session: Session, user_id: int, *, now: datetime, reference: str) -> dict:
    """Stop future grants; this period's grant stays until the period ends. Once per `reference`."""
    operation, done = begin_operation(session, key=f"subscription-change:{reference}", kind=TransferKind.grant,
                                      user_id=user_id, amount=0, params={"user_id": user_id, "cancel": True})
    if done:
        return operation.result
    subscription = subscription_of(session, user_id, lock=True)
    if subscription is None:
        raise NotFound("the user has no subscription", code="no_subscription")
    action = "unchanged"
    if subscription.status != SubscriptionStatus.cancelled:
        action = "cancelled"
        subscription.status, subscription.cancelled_at, subscription.next_tier_id = \
            SubscriptionStatus.cancelled, now, None
    return apply(session, operation, [], users=set(), subscription_id=subscription.id, action=action,
                 grant_expires_at=subscription.period_end.isoformat())


def apply_change(session: Session, user_id: int, data: dict, *, now: datetime, reference: str) -> dict:
    """`{"tier_id"}` or `{"status": cancelled}`, as the admins' PUT and the `subscription.updated` event give it."""
    if "tier_id" in data:
        return change_tier(session, user_id, data["tier_id"], now=now, reference=reference)
    return cancel(session, user_id, now=now, reference=reference)
