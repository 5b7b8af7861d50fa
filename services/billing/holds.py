"""Two-phase spending for metered work: hold credits, then capture the real usage or void it.

A hold is an operation whose transfers are `pending` (granted credits first); they raise the
accounts' `pending`, not move their balance. It resolves once: capture voids the reservations and
posts a `charge` of the actual amount referencing them; void just releases them.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import Account, HoldState, LedgerOperation, Transfer, TransferKind, TransferStatus
from models.base import utcnow
from services.billing.ledger import Leg, apply, begin_operation, spend_legs, system_account, user_accounts
from services.errors import Conflict, DomainError, NotFound

DEFAULT_TTL = timedelta(minutes=15)


def hold(session: Session, user_id: int, amount: int, *, key: str, reference: str | None = None,
         ttl: timedelta = DEFAULT_TTL, job_id: uuid.UUID | None = None) -> dict:
    """Reserve `amount` credits or fail with insufficient_funds; returns {"hold_id", ...}."""
    operation, done = begin_operation(
        session, key=key, kind=TransferKind.hold, user_id=user_id, job_id=job_id, amount=amount,
        params={"user_id": user_id, "amount": amount, "reference": reference},
        state=HoldState.open, expires_at=utcnow() + ttl)
    if done:
        return operation.result
    legs = spend_legs(user_accounts(session, user_id, lock=True), system_account(session, "revenue"), amount,
                      TransferKind.hold, status=TransferStatus.pending, description=reference)
    transfers = apply(session, operation, legs)
    operation.result = {"hold_id": str(operation.id), "amount": amount, "transfer_ids": [t.id for t in transfers]}
    return operation.result


def _resolve(session: Session, hold_id: uuid.UUID, to: HoldState) -> tuple[LedgerOperation, list[Transfer]]:
    """Move an open hold to `to`, once; its pending reservations, its user's accounts locked."""
    operation = session.get(LedgerOperation, hold_id)
    if operation is None or operation.kind != TransferKind.hold:
        raise NotFound("no such hold", code="hold_not_found")
    user_accounts(session, operation.user_id, lock=True)
    moved = session.execute(
        update(LedgerOperation).where(LedgerOperation.id == hold_id, LedgerOperation.state == HoldState.open)
        .values(state=to, resolved_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    if not moved:
        session.refresh(operation)
        raise Conflict(f"the hold is already {operation.state.value}", code="hold_already_resolved",
                       details={"state": operation.state.value})
    session.expire(operation)
    legs = list(session.scalars(select(Transfer).where(Transfer.operation_id == hold_id).order_by(Transfer.id)))
    return operation, legs


def capture(session: Session, hold_id: uuid.UUID, actual: int) -> dict:
    """Post the actual usage (at most the held amount) and release the rest."""
    try:
        operation, done = begin_operation(session, key=f"capture:{hold_id}", kind=TransferKind.charge,
                                          amount=actual, params={"hold_id": str(hold_id), "actual": actual})
    except Conflict as exc:  # captured before, with another amount
        raise Conflict("the hold is already captured", code="hold_already_resolved",
                       details={"state": HoldState.captured.value}) from exc
    if done:
        return operation.result
    hold_op, reservations = _resolve(session, hold_id, HoldState.captured)
    if not 0 <= actual <= hold_op.amount:
        raise DomainError("a capture may not exceed its hold", code="capture_exceeds_hold",
                          details={"held": hold_op.amount, "actual": actual})
    operation.user_id, operation.job_id = hold_op.user_id, hold_op.job_id
    legs, left = [], actual
    for reserved in reservations:  # granted first, as the hold took them
        part = min(left, reserved.amount)
        if part:
            legs.append(Leg(session.get_one(Account, reserved.debit_account_id),
                            session.get_one(Account, reserved.credit_account_id), part, TransferKind.charge,
                            reference_id=reserved.id, description=reserved.description))
        left -= part
    transfers = apply(session, operation, legs, releases=reservations)
    operation.result = {"hold_id": str(hold_id), "captured": actual, "released": hold_op.amount - actual,
                        "transfer_ids": [t.id for t in transfers]}
    return operation.result


def void(session: Session, hold_id: uuid.UUID) -> dict:
    """Release the whole hold."""
    operation, done = begin_operation(session, key=f"void:{hold_id}", kind=TransferKind.hold, amount=0,
                                      params={"hold_id": str(hold_id)})
    if done:
        return operation.result
    hold_op, reservations = _resolve(session, hold_id, HoldState.voided)
    operation.user_id = hold_op.user_id
    apply(session, operation, [], releases=reservations)
    operation.result = {"hold_id": str(hold_id), "released": hold_op.amount}
    return operation.result


def expired_holds(session: Session, now: datetime | None = None, limit: int = 500) -> list[uuid.UUID]:
    """Open holds past their expiry, for beat to void (one transaction each)."""
    return list(session.scalars(
        select(LedgerOperation.id).where(LedgerOperation.state == HoldState.open,
                                         LedgerOperation.expires_at < (now or utcnow()))
        .order_by(LedgerOperation.expires_at).limit(limit)))

