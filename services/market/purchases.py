"""Purchases: recorded pending, then completed (once), failed or refunded by the payment provider's events.

Each event's work runs as a job with the purchase row locked, so two deliveries of one event, or two
events for one purchase, complete it once; the ledger's idempotency key per purchase is the last
line of defence.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from models import ProductKind, Purchase, PurchaseStatus, RefusedPaymentEvent
from services.billing.wallets import top_up
from services.errors import DomainError, NotFound
from services.market.products import get_product
from services.pagination import page
from services.subscriptions.changes import change_tier

DONE = (PurchaseStatus.completed, PurchaseStatus.refunded)


def purchase_key(purchase_id: int) -> str:
    """The ledger's idempotency key of a pack purchase's credits."""
    return f"purchase:{purchase_id}"


def start_purchase(session: Session, user_id: int, product_id: int) -> Purchase:
    """A pending purchase of an active product, at the product's price now."""
    product = get_product(session, product_id)
    if not product.active:
        raise NotFound("no such product", code="unknown_product")
    purchase = Purchase(user_id=user_id, product_id=product.id, kind=product.kind, status=PurchaseStatus.pending,
                        amount=product.price, currency=product.currency, credits=product.credits,
                        tier_id=product.tier_id)
    session.add(purchase)
    session.flush()
    return purchase


def purchases_of(session: Session, user_id: int, *, limit: int, cursor: str | None):
    return page(session, select(Purchase).where(Purchase.user_id == user_id), Purchase, limit, cursor)


def get_purchase(session: Session, purchase_id: int, *, lock: bool = False) -> Purchase:
    stmt = select(Purchase).where(Purchase.id == purchase_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    purchase = session.scalar(stmt)
    if purchase is None:
        raise NotFound("no such purchase", code="unknown_purchase", status=422)
    return purchase


def payment_mismatch(purchase: Purchase, amount: Decimal, currency: str) -> DomainError | None:
    """The error to refuse a payment with, when it did not pay exactly the purchase's price."""
    if amount == purchase.amount and currency == purchase.currency:
        return None
    return DomainError("the payment's amount or currency does not match the purchase", code="amount_mismatch",
                       details={"expected": {"amount": str(purchase.amount), "currency": purchase.currency},
                                "paid": {"amount": str(amount), "currency": currency}})


def refuse_event(session: Session, purchase_id: int, event: dict, error: DomainError) -> None:
    """Record a refused event (once per event id: a redelivery records nothing new)."""
    values = {"event_id": event["id"], "purchase_id": purchase_id, "type": event["type"], "reason": error.code,
              "details": error.details}
    upsert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(upsert(RefusedPaymentEvent).values(**values).on_conflict_do_nothing(index_elements=["event_id"]))


def complete_purchase(session: Session, purchase_id: int, *, event_id: str, amount: Decimal, currency: str,
                      now: datetime, job_id=None) -> dict:
    """The payment succeeded: deliver what was bought, once, whichever event (or delivery) comes first."""
    purchase = get_purchase(session, purchase_id, lock=True)
    if purchase.status in DONE:
        return {**summary(purchase), "already_completed": True}
    if error := payment_mismatch(purchase, amount, currency):
        raise error
    # One branch per kind of product.
    if purchase.kind == ProductKind.pack:
        top_up(session, purchase.user_id, purchase.credits, event_id=event_id, job_id=job_id,
               key=purchase_key(purchase.id))
    elif purchase.kind == ProductKind.tier:
        # Starts, upgrades (pro rata), schedules a downgrade of, or renews the subscription, once per purchase.
        change_tier(session, purchase.user_id, purchase.tier_id, now=now, reference=purchase_key(purchase.id))
    purchase.status, purchase.paid_event_id, purchase.completed_at = PurchaseStatus.completed, event_id, now
    return summary(purchase)


def fail_purchase(session: Session, purchase_id: int, *, event_id: str, now: datetime) -> dict:
    """The payment failed: a pending purchase is failed; one already paid stays as it is (said in the result)."""
    purchase = get_purchase(session, purchase_id, lock=True)
    if purchase.status == PurchaseStatus.pending:
        purchase.status, purchase.failed_event_id, purchase.failed_at = PurchaseStatus.failed, event_id, now
    return summary(purchase)


def summary(purchase: Purchase) -> dict:
    return {"purchase_id": purchase.id, "status": purchase.status.value, "kind": purchase.kind.value,
            "credits": purchase.credits, "refund_taken": purchase.refund_taken,
            "refund_not_taken": purchase.refund_not_taken}
