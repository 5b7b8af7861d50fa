"""Wallets: signup bonus, top-ups, charges, adjustments, refunds; each idempotent by its key."""

from __future__ import annotations

from typing import Callable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models import Account, AccountKind, Transfer, TransferKind, TransferStatus, User
from models.base import int_column_max
from services.billing.ledger import Leg, Locked, apply, begin_operation, lock_user, spend_legs
from services.errors import DomainError, NotFound
from services.pagination import page, where_given

Legs = Callable[[Locked], list[Leg]]


def _operate(session: Session, *, key: str, kind: TransferKind, user_id: int, amount: int, system: str, legs: Legs,
             job_id=None, params: dict | None = None, **extra) -> dict:
    """Record the operation under `key` and post what `legs` makes of the user's locked accounts, once."""
    operation, done = begin_operation(session, key=key, kind=kind, user_id=user_id, job_id=job_id, amount=amount,
                                      params={"user_id": user_id, "amount": amount, **(params or {})})
    if done:
        return operation.result
    locked = lock_user(session, user_id, system)
    return apply(session, operation, legs(locked), users=locked.ids, operation_id=str(operation.id), amount=amount,
                 **extra)


def _credit(into: AccountKind, amount: int, kind: TransferKind, description: str | None) -> Legs:
    """From the system account into the user's `into` account."""
    return lambda locked: [Leg(locked.system_id, locked.accounts[into].id, amount, kind, description=description)]


def _spend(amount: int, kind: TransferKind, description: str | None) -> Legs:
    """From the user's credits, granted first, into the system account."""
    return lambda locked: spend_legs(locked, amount, kind, description=description)


def require_user(session: Session, user_id: int) -> None:
    """Credits move only for a user who exists; an id no user can have (past its column) is simply unknown."""
    if not 0 < user_id <= int_column_max(User.id) or session.get(User, user_id) is None:
        raise NotFound("no such user", code="unknown_user", status=422)


def grant_signup_bonus(session: Session, user_id: int, amount: int) -> dict | None:
    if amount <= 0:
        return None
    return _operate(session, key=f"signup-bonus:{user_id}", kind=TransferKind.bonus, user_id=user_id, amount=amount,
                    system="bonus", legs=_credit(AccountKind.granted, amount, TransferKind.bonus, "signup bonus"))


def top_up(session: Session, user_id: int, amount: int, *, event_id: str, job_id=None, key: str | None = None) -> dict:
    """A payment succeeded: credit the user's purchased credits, once per `key` (by default, per provider event)."""
    require_user(session, user_id)
    return _operate(session, key=key or f"payment:{event_id}", kind=TransferKind.topup, user_id=user_id, amount=amount,
                    job_id=job_id, system="payments",
                    legs=_credit(AccountKind.purchased, amount, TransferKind.topup, f"payment {event_id}"))


def charge(session: Session, user_id: int, amount: int, *, key: str, job_id=None, description: str | None = None,
           reference: str | None = None) -> dict:
    """Spend credits, granted first; InsufficientFunds moves nothing."""
    return _operate(session, key=key, kind=TransferKind.charge, user_id=user_id, amount=amount, job_id=job_id,
                    params={"description": description, "reference": reference}, reference=reference,
                    system="revenue", legs=_spend(amount, TransferKind.charge, description))


def adjust(session: Session, user_id: int, amount: int, *, reason: str, key: str, job_id=None) -> dict:
    """An admin's correction: a positive amount adds purchased credits, a negative one spends credits."""
    require_user(session, user_id)
    kind = TransferKind.adjustment
    legs = (_credit(AccountKind.purchased, amount, kind, reason) if amount > 0 else _spend(-amount, kind, reason))
    return _operate(session, key=key, kind=kind, user_id=user_id, amount=amount, job_id=job_id,
                    params={"reason": reason}, system="adjustments", legs=legs)


def refund(session: Session, transfer_id: int, amount: int, *, key: str, job_id=None,
           branch_id: int | None = None) -> dict:
    """Return up to what a charge took (over all its refunds) to the account it came from.

    `branch_id`: a manager's refund, only for a charge of a user of that branch."""
    charged = session.scalar(select(Transfer).where(Transfer.id == transfer_id).with_for_update())
    if charged is None or charged.kind != TransferKind.charge or charged.status != TransferStatus.posted:
        raise NotFound("no such charge", code="charge_not_found")
    if branch_id is not None and _branch_of_payer(session, charged) != branch_id:
        raise DomainError("this charge belongs to a user outside your branch", code="forbidden")
    operation, done = begin_operation(session, key=key, kind=TransferKind.refund, job_id=job_id, amount=amount,
                                      params={"transfer_id": transfer_id, "amount": amount})
    if done:
        return operation.result
    refunded = sum(session.scalars(select(Transfer.amount).where(Transfer.reference_id == transfer_id,
                                                                 Transfer.kind == TransferKind.refund)))
    if refunded + amount > charged.amount:
        raise DomainError("a refund may not exceed what the charge took", code="refund_exceeds_charge",
                          details={"charged": charged.amount, "refunded": refunded, "requested": amount})
    operation.user_id = session.scalar(select(Account.owner_id).where(Account.id == charged.debit_account_id))
    locked = lock_user(session, operation.user_id, "revenue")
    legs = [Leg(charged.credit_account_id, charged.debit_account_id, amount, TransferKind.refund,
                reference_id=charged.id, description=f"refund of transfer {charged.id}")]
    return apply(session, operation, legs, users=locked.ids, operation_id=str(operation.id), amount=amount,
                 refunded_total=refunded + amount)


def _branch_of_payer(session: Session, charged: Transfer) -> int | None:
    return session.scalar(select(User.branch_id).join(Account, Account.owner_id == User.id)
                          .where(Account.id == charged.debit_account_id))


def wallet(session: Session, user_id: int) -> dict:
    accounts = {a.kind: a for a in session.scalars(select(Account).where(Account.owner_id == user_id))}
    granted, purchased = (accounts.get(k) for k in (AccountKind.granted, AccountKind.purchased))
    posted = {k: (a.balance if a else 0) for k, a in (("granted", granted), ("purchased", purchased))}
    held = sum(a.pending for a in (granted, purchased) if a)
    balance = posted["granted"] + posted["purchased"]
    return {"balance": balance, "available": balance - held, "held": held, **posted, "currency": "credits"}


def transfers_of(session: Session, user_id: int, *, kind: TransferKind | None, limit: int,
                 cursor: str | None) -> tuple[list[Transfer], str | None]:
    """The user's transfers, newest first, either side."""
    mine = select(Account.id).where(Account.owner_id == user_id)
    stmt = select(Transfer).where(or_(Transfer.debit_account_id.in_(mine), Transfer.credit_account_id.in_(mine)))
    return page(session, where_given(stmt, (Transfer.kind, kind)), Transfer, limit, cursor)
