"""Admin-managed tiers. A tier's period length never changes once made: its subscriptions' period
boundaries (and the ledger keys of their grants) derive from it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Tier
from services.errors import Conflict, NotFound


def list_tiers(session: Session, *, active_only: bool) -> list[Tier]:
    stmt = select(Tier).order_by(Tier.credits_per_period, Tier.id)
    return list(session.scalars(stmt.where(Tier.active) if active_only else stmt))


def _save(session: Session, tier: Tier) -> Tier:
    try:
        with session.begin_nested():
            session.add(tier)
    except IntegrityError as exc:
        raise Conflict("a tier with this name exists", code="tier_name_taken") from exc
    return tier


def create_tier(session: Session, data: dict) -> Tier:
    return _save(session, Tier(**data))


def update_tier(session: Session, tier_id: int, data: dict) -> Tier:
    """Change what `data` names (not the period); subscribers see the new allowance from their next period."""
    tier = session.get(Tier, tier_id, with_for_update=True)
    if tier is None:
        raise NotFound("no such tier", code="unknown_tier")
    for name, value in data.items():
        setattr(tier, name, value)
    return _save(session, tier)
