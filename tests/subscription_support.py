"""Tiers for tests: the suite empties every table between tests, the tiers migration 0010 seeds included."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import uuid

from sqlalchemy import String, cast, insert, literal, select

from models import Account, AccountKind, Period, Role, Subscription, SubscriptionStatus, Tier, User

# The migration's seeds (migrations/versions/0010_subscriptions.py) and a daily tier.
SEEDS = {
    "free": dict(credits_per_period=100, period=Period.monthly, rollover=False, rollover_cap=None),
    "basic": dict(credits_per_period=2_000, period=Period.monthly, rollover=False, rollover_cap=None),
    "premium": dict(credits_per_period=20_000, period=Period.monthly, rollover=True, rollover_cap=10_000),
    "daily": dict(credits_per_period=50, period=Period.daily, rollover=False, rollover_cap=None),
}


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def seed_tiers(session) -> dict[str, Tier]:
    tiers = {name: Tier(name=name, price_multiplier=Decimal(1), active=True, **values) for name, values in SEEDS.items()}
    session.add_all(tiers.values())
    session.flush()
    return tiers


def seed_tiers_in(db) -> dict[str, int]:
    """The tiers, committed (for tests with a worker); their ids by name."""
    with db.Session.begin() as session:
        return {name: tier.id for name, tier in seed_tiers(session).items()}


def bare_user(session) -> int:
    """A user without the subscription registration starts (services/auth.py create_user)."""
    user = User(email=f"{uuid.uuid4().hex[:12]}@example.com", password_hash="x", role=Role.customer, token_version=0)
    session.add(user)
    session.flush()
    return user.id


def due_subscribers(session, count: int, tier_id: int, anchor: datetime, period_end: datetime,
                    prefix: str = "due") -> None:
    """`count` users on `tier_id`, each with an empty granted account and a subscription whose period
    [anchor, period_end) has ended: set-based (three INSERT ... SELECT), not `count` registrations."""
    numbers = select(literal(1).label("i")).cte("numbers", recursive=True)
    numbers = numbers.union_all(select(numbers.c.i + 1).where(numbers.c.i < count))
    now = datetime.now(timezone.utc)
    stamp = lambda value: literal(value, User.created_at.type)  # noqa: E731
    session.execute(insert(User).from_select(
        ["email", "password_hash", "role", "token_version", "created_at"],
        select(literal(f"{prefix}-").op("||")(cast(numbers.c.i, String)).op("||")(literal("@example.com")),
               literal("x"), literal(Role.customer.value), literal(0), stamp(now))))
    session.execute(insert(Account).from_select(
        ["owner_id", "kind", "balance", "pending", "created_at"],
        select(User.id, literal(AccountKind.granted.value), literal(0), literal(0), stamp(now))
        .where(User.email.like(f"{prefix}-%"))))
    session.execute(insert(Subscription).from_select(
        ["user_id", "tier_id", "status", "anchor_at", "period_start", "period_end", "period_granted", "created_at",
         "updated_at"],
        select(User.id, literal(tier_id), literal(SubscriptionStatus.active.value), stamp(anchor), stamp(anchor),
               stamp(period_end), literal(0), stamp(now), stamp(now)).where(User.email.like(f"{prefix}-%"))))
