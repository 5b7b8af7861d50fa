"""Two-phase spending for metered work: hold credits, then capture the real usage or void it.

A hold is an operation whose transfers are `pending` (granted credits first); they raise the
accounts' `pending`, not move their balance. It resolves once: capture voids the reservations and
posts a `charge` of the actual amount referencing them; void just releases them.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from models import HoldState, LedgerOperation, Transfer, TransferKind, TransferStatus
from models.base import utcnow
from services.billing.ledger import (OPERATIONS, TRANSFERS, Leg, Reservation, apply, begin_operation, forget,
                                     lock_user, run, spend_legs)
from services.errors import Conflict, DomainError, NotFound

DEFAULT_TTL = timedelta(minutes=15)
_RESOLVE = (update(OPERATIONS).where(OPERATIONS.c.id == bindparam("hold_id"), OPERATIONS.c.kind == TransferKind.hold,
                                     OPERATIONS.c.state == HoldState.open)
            .values(state=bindparam("to"), resolved_at=bindparam("now"))
            .returning(OPERATIONS.c.user_id, OPERATIONS.c.amount, OPERATIONS.c.job_id))
_RELEASE = (update(TRANSFERS).where(TRANSFERS.c.operation_id == bindparam("hold_id"),
                                    TRANSFERS.c.status == TransferStatus.pending)
            .values(status=TransferStatus.voided)
            .returning(TRANSFERS.c.id, TRANSFERS.c.debit_account_id, TRANSFERS.c.credit_account_id,
                       TRANSFERS.c.amount, TRANSFERS.c.description))


def hold(session: Session, user_id: int, amount: int, *, key: str, reference: str | None = None,
         ttl: timedelta = DEFAULT_TTL, job_id: uuid.UUID | None = None) -> dict:
    """Reserve `amount` credits or fail with insufficient_funds; returns {"hold_id", ...}."""
    operation, done = begin_operation(
        session, key=key, kind=TransferKind.hold, user_id=user_id, job_id=job_id, amount=amount,
        params={"user_id": user_id, "amount": amount, "reference": reference},
        state=HoldState.open, expires_at=utcnow() + ttl)
    if done:
        return operation.result
    locked = lock_user(session, user_id, "revenue")
    legs = spend_legs(locked, amount, TransferKind.hold, status=TransferStatus.pending, description=reference)
    return apply(session, operation, legs, users=locked.ids, hold_id=str(operation.id), amount=amount)


def _resolve(session: Session, hold_id: uuid.UUID, to: HoldState) -> tuple[int, int, uuid.UUID | None,
                                                                             list[Reservation]]:
    """Move an open hold to `to`, once (the conditional UPDATE of its row serialises its resolutions),
    and its reservations out of `pending`; (its user, amount, job, the reservations, in id order)."""
    row = run(session, _RESOLVE, {"hold_id": hold_id, "to": to, "now": utcnow()}).first()
    if row is None:
        state = session.scalar(select(LedgerOperation.state).where(LedgerOperation.id == hold_id,
                                                                   LedgerOperation.kind == TransferKind.hold))
        if state is None:
            raise NotFound("no such hold", code="hold_not_found")
        raise Conflict(f"the hold is already {state.value}", code="hold_already_resolved",
                       details={"state": state.value})
    reservations = sorted((Reservation(*r) for r in run(session, _RELEASE, {"hold_id": hold_id})),
                          key=lambda r: r.id)
    forget(session, LedgerOperation, [hold_id], ["state", "resolved_at"])
    forget(session, Transfer, [r.id for r in reservations], ["status"])
    return row.user_id, row.amount, row.job_id, reservations


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
    operation.user_id, held, operation.job_id, reservations = _resolve(session, hold_id, HoldState.captured)
    if not 0 <= actual <= held:
        raise DomainError("a capture may not exceed its hold", code="capture_exceeds_hold",
                          details={"held": held, "actual": actual})
    legs, left = [], actual
    for reserved in reservations:  # granted first, as the hold took them
        part = min(left, reserved.amount)
        if part:
            legs.append(Leg(reserved.debit_id, reserved.credit_id, part, TransferKind.charge,
                            reference_id=reserved.id, description=reserved.description))
        left -= part
    return apply(session, operation, legs, users={r.debit_id for r in reservations}, locked=False,
                 releases=reservations, hold_id=str(hold_id), captured=actual, released=held - actual)


def void(session: Session, hold_id: uuid.UUID) -> dict:
    """Release the whole hold."""
    operation, done = begin_operation(session, key=f"void:{hold_id}", kind=TransferKind.hold, amount=0,
                                      params={"hold_id": str(hold_id)})
    if done:
        return operation.result
    operation.user_id, held, _, reservations = _resolve(session, hold_id, HoldState.voided)
    return apply(session, operation, [], users={r.debit_id for r in reservations}, locked=False,
                 releases=reservations, hold_id=str(hold_id), released=held)


def expired_holds(session: Session, now: datetime | None = None, limit: int = 500) -> list[uuid.UUID]:
    """Open holds past their expiry, for beat to void (one transaction each)."""
    return list(session.scalars(
        select(LedgerOperation.id).where(LedgerOperation.state == HoldState.open,
                                         LedgerOperation.expires_at < (now or utcnow()))
        .order_by(LedgerOperation.expires_at).limit(limit)))

