"""Market products (admin-managed): credit packs and tier subscriptions, each with a price and currency."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import MarketProduct, ProductKind, Tier
from services.errors import DomainError, NotFound


def all_products(session: Session) -> list[MarketProduct]:
    return list(session.scalars(select(MarketProduct).order_by(MarketProduct.id)))


def active_products(session: Session) -> list[MarketProduct]:
    return list(session.scalars(select(MarketProduct).where(MarketProduct.active.is_(True))
                                .order_by(MarketProduct.id)))


def get_product(session: Session, product_id: int, *, lock: bool = False) -> MarketProduct:
    product = session.get(MarketProduct, product_id, with_for_update=lock)
    if product is None:
        raise NotFound("no such product", code="unknown_product")
    return product


def create_product(session: Session, data: dict) -> MarketProduct:
    """A pack names its `credits`, a tier product its `tier_id`; never both."""
    kind = data["kind"]
    if kind == ProductKind.pack and (data.get("credits") is None or data.get("tier_id") is not None):
        raise DomainError("a pack has credits and no tier", code="invalid_product")
    if kind == ProductKind.tier:
        if data.get("tier_id") is None or data.get("credits") is not None:
            raise DomainError("a tier product has a tier and no credits", code="invalid_product")
        if session.get(Tier, data["tier_id"]) is None:
            raise NotFound("no such tier", code="unknown_tier", status=422)
    product = MarketProduct(**data)
    session.add(product)
    session.flush()
    return product


def update_product(session: Session, product_id: int, changes: dict) -> MarketProduct:
    """Name, price, currency and active only: purchases copied what they bought, so nothing they owe changes."""
    product = get_product(session, product_id, lock=True)
    for name, value in changes.items():
        setattr(product, name, value)
    session.flush()
    return product
