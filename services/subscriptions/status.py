"""What a user's subscription looks like now: tier, period, allowance, granted, used, next refresh."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Account, Subscription, SubscriptionStatus, Tier, Transfer, TransferKind, TransferStatus
from services.errors import NotFound


def used_since(session: Session, user_id: int, since: datetime) -> int:
    """Credits the user's charges took since `since` (from granted and purchased credits)."""
    mine = select(Account.id).where(Account.owner_id == user_id)
    return int(session.scalar(select(func.coalesce(func.sum(Transfer.amount), 0)).where(
        Transfer.debit_account_id.in_(mine), Transfer.kind == TransferKind.charge,
        Transfer.status == TransferStatus.posted, Transfer.created_at >= since)))


def subscription_view(session: Session, user_id: int) -> dict:
    subscription = session.scalar(select(Subscription).where(Subscription.user_id == user_id))
    if subscription is None:
        raise NotFound("you have no subscription", code="no_subscription")
    tier = session.get_one(Tier, subscription.tier_id)
    next_tier = session.get(Tier, subscription.next_tier_id) if subscription.next_tier_id else None
    refreshes = subscription.status != SubscriptionStatus.cancelled
    return {"tier": tier, "status": subscription.status.value, "anchor_at": subscription.anchor_at,
            "period_start": subscription.period_start, "period_end": subscription.period_end,
            "allowance": tier.credits_per_period, "granted_this_period": subscription.period_granted,
            "used_this_period": used_since(session, user_id, subscription.period_start),
            "next_refresh": subscription.period_end if refreshes else None,
            "next_tier": next_tier, "cancelled_at": subscription.cancelled_at}
