"""Tiers for tests: the suite empties every table between tests, the tiers migration 0010 seeds included."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import uuid

from models import Period, Role, Tier, User

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
