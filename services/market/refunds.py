"""A refunded purchase: a pack's credits are taken back, at most those still unspent, never below zero."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AccountKind, LedgerOperation, ProductKind, PurchaseStatus, Transfer, TransferKind
from services.billing.ledger import Leg, apply, begin_operation, lock_user
from services.errors import DomainError
from services.market.purchases import get_purchase, purchase_key, summary


def refund_purchase(session: Session, purchase_id: int, *, event_id: str, now: datetime, job_id=None) -> dict:
    """Mark a completed purchase refunded, once; for a pack, take back what is left of its credits and
    record (and answer) what could not be taken because it was spent."""
    purchase = get_purchase(session, purchase_id, lock=True)
    if purchase.status == PurchaseStatus.refunded:
        return summary(purchase)
    if purchase.status != PurchaseStatus.completed:
        raise DomainError("only a completed purchase can be refunded", code="purchase_not_completed",
                          details={"status": purchase.status.value})
    if purchase.kind == ProductKind.pack:
        taken = _take_back(session, purchase.user_id, purchase.credits, purchase_id=purchase.id, job_id=job_id)
        purchase.refund_taken, purchase.refund_not_taken = taken, purchase.credits - taken
    purchase.status, purchase.refunded_event_id, purchase.refunded_at = PurchaseStatus.refunded, event_id, now
    return summary(purchase)


def _take_back(session: Session, user_id: int, credits: int, *, purchase_id: int, job_id) -> int:
    """Move min(credits, what the purchased account has available) back to `payments`; the amount moved."""
    operation, done = begin_operation(session, key=f"purchase-refund:{purchase_id}", kind=TransferKind.refund,
                                      user_id=user_id, job_id=job_id, amount=credits,
                                      params={"purchase_id": purchase_id, "amount": credits})
    if done:
        return operation.result["taken"]
    locked = lock_user(session, user_id, "payments")
    purchased = locked.accounts[AccountKind.purchased]
    # Credits held by a pending hold are spoken for: only what is available can be taken.
    taken = min(credits, purchased.available)
    topped_up = session.scalar(select(Transfer.id).join(LedgerOperation, LedgerOperation.id == Transfer.operation_id)
                               .where(LedgerOperation.idempotency_key == purchase_key(purchase_id)))
    legs = [Leg(purchased.id, locked.system_id, taken, TransferKind.refund, reference_id=topped_up,
                description=f"refund of purchase {purchase_id}")] if taken else []
    apply(session, operation, legs, users=locked.ids, operation_id=str(operation.id), taken=taken,
          not_taken=credits - taken)
    return taken
