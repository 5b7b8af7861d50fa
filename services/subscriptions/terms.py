"""What a user's tier gives them now: the price multiplier and the limits that other families apply."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Subscription, SubscriptionStatus, Tier

DEFAULT_TIER = "free"  # a user without a subscription (made before tiers existed) is on it


@dataclass(frozen=True)
class TierTerms:
    tier: str
    price_multiplier: Decimal
    requests_per_minute: int | None  # None: unlimited
    tokens_per_minute: int | None
    concurrent_jobs: int | None


def terms_for(session: Session, user_id: int) -> TierTerms:
    """The terms of the user's active (or past-due) subscription's tier; the default tier's otherwise."""
    tier = session.scalar(
        select(Tier).join(Subscription, Subscription.tier_id == Tier.id)
        .where(Subscription.user_id == user_id, Subscription.status != SubscriptionStatus.cancelled))
    if tier is None:
        tier = session.scalar(select(Tier).where(Tier.name == DEFAULT_TIER))
    return TierTerms(tier.name, tier.price_multiplier, tier.requests_per_minute, tier.tokens_per_minute,
                     tier.concurrent_jobs)
