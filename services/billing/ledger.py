"""The ledger's one mechanism: post an operation's transfers to its accounts, all or none.

Users' balances live on their account rows and move only by conditional UPDATEs that cannot
overdraw them (`balance - pending` stays >= 0), on PostgreSQL and SQLite alike. Every operation first
locks the user's own accounts and updates them in id order, so concurrent operations never deadlock.

System accounts (bonus, payments, revenue, ...) are on the other side of nearly every operation, so a
row of theirs updated in every transaction would serialise the whole ledger behind one lock. Their
balances are not stored: they are the sums of their posted transfers (services/billing/balances.py),
double entry still holds transfer by transfer, and reconciliation checks every user balance against
the same transfers.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached

from models import Account, AccountKind, LedgerOperation, Transfer, TransferKind, TransferStatus
from models.base import utcnow
from services.errors import Conflict, DomainError

USER_KINDS = (AccountKind.granted, AccountKind.purchased)


class InsufficientFunds(DomainError):
    code = "insufficient_funds"
    status = 422


@dataclass(frozen=True)
class Leg:
    debit: Account
    credit: Account
    amount: int
    kind: TransferKind
    status: TransferStatus = TransferStatus.posted
    reference_id: int | None = None
    description: str | None = None


def system_account(session: Session, name: str) -> Account:
    account = session.scalar(select(Account).where(Account.name == name))
    if account is None:
        account = _create(session, Account(owner_id=None, kind=AccountKind.system, name=name, balance=0, pending=0),
                          select(Account).where(Account.name == name))
    return account


def user_accounts(session: Session, user_id: int, *, lock: bool = False) -> dict[AccountKind, Account]:
    """The user's granted and purchased accounts, opened on first use; locked (in id order) if asked."""
    stmt = select(Account).where(Account.owner_id == user_id).order_by(Account.id)
    if lock:
        # populate_existing: the locked read must refresh what an earlier read left in the session.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    accounts = {a.kind: a for a in session.scalars(stmt)}
    missing = [kind for kind in USER_KINDS if kind not in accounts]
    if not missing:
        return accounts
    for kind in missing:
        _create(session, Account(owner_id=user_id, kind=kind, balance=0, pending=0),
                select(Account).where(Account.owner_id == user_id, Account.kind == kind))
    return {a.kind: a for a in session.scalars(stmt)}


def _create(session: Session, account: Account, lookup) -> Account:
    """Insert, or take the row a concurrent transaction inserted first."""
    try:
        with session.begin_nested():
            session.add(account)
        return account
    except IntegrityError:
        return session.scalar(lookup)


def fingerprint(kind: TransferKind, params: dict) -> str:
    """What an operation's idempotency key stands for: the same key with another fingerprint is refused."""
    return hashlib.sha256(json.dumps([kind.value, params], sort_keys=True, default=str).encode()).hexdigest()


def begin_operation(session: Session, *, key: str, kind: TransferKind, params: dict, amount: int,
                    user_id: int | None = None, job_id: uuid.UUID | None = None,
                    **columns) -> tuple[LedgerOperation, bool]:
    """Record an operation under its idempotency key; returns (operation, already_done).

    The same key with the same parameters finds the first operation; with others it is refused.
    """
    digest = fingerprint(kind, params)
    values = {"id": uuid.uuid4(), "idempotency_key": key, "kind": kind, "fingerprint": digest, "user_id": user_id,
              "job_id": job_id, "amount": amount, "result": {}, "created_at": utcnow(), "state": None,
              "expires_at": None, "resolved_at": None, **columns}
    # One round trip in the usual case: the insert either lands or meets the first operation.
    upsert = (pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert)
    inserted = session.execute(upsert(LedgerOperation.__table__).values(**values)
                               .on_conflict_do_nothing(index_elements=["idempotency_key"])
                               .returning(LedgerOperation.id)).first()
    if inserted:
        operation = LedgerOperation(**values)
        make_transient_to_detached(operation)  # the row exists: track it without reading it back
        session.add(operation)
        return operation, False
    existing = session.scalar(select(LedgerOperation).where(LedgerOperation.idempotency_key == key))
    if existing.fingerprint != digest:
        raise Conflict("this idempotency key was used for another operation", code="idempotency_key_reused",
                       details={"operation_id": str(existing.id)})
    return existing, True


def apply(session: Session, operation: LedgerOperation, legs: list[Leg], *,
          releases: list[Transfer] = ()) -> list[Transfer]:
    """Post `legs` (and release the pending `releases`) in one go; InsufficientFunds leaves no trace.

    The caller's transaction must be rolled back on any error: the UPDATEs before a failing one
    have run.
    """
    balance, pending, accounts = defaultdict(int), defaultdict(int), {}
    for leg in legs:
        accounts[leg.debit.id], accounts[leg.credit.id] = leg.debit, leg.credit
        if leg.status == TransferStatus.posted:
            balance[leg.debit.id] -= leg.amount
            balance[leg.credit.id] += leg.amount
        else:
            pending[leg.debit.id] += leg.amount
    for held in releases:
        pending[held.debit_account_id] -= held.amount
        accounts[held.debit_account_id] = session.get(Account, held.debit_account_id)
    users_accounts = sorted(i for i, account in accounts.items() if account.owner_id is not None)
    for account_id in users_accounts:
        moved = session.execute(
            update(Account)
            .where(Account.id == account_id,
                   Account.balance + balance[account_id] - Account.pending - pending[account_id] >= 0)
            .values(balance=Account.balance + balance[account_id], pending=Account.pending + pending[account_id])
            .execution_options(synchronize_session=False)
        ).rowcount
        if not moved:
            raise InsufficientFunds("not enough credits available", details={"account_id": account_id})
    for account_id in users_accounts:
        session.expire(accounts[account_id], ["balance", "pending"])
    for held in releases:
        voided = session.execute(
            update(Transfer).where(Transfer.id == held.id, Transfer.status == TransferStatus.pending)
            .values(status=TransferStatus.voided).execution_options(synchronize_session=False)).rowcount
        if not voided:
            raise Conflict("the hold was resolved already", code="hold_already_resolved")
        session.expire(held, ["status"])
    transfers = [
        Transfer(debit_account_id=leg.debit.id, credit_account_id=leg.credit.id, amount=leg.amount, kind=leg.kind,
                 status=leg.status, operation_id=operation.id, job_id=operation.job_id, reference_id=leg.reference_id,
                 idempotency_key=f"{operation.idempotency_key}#{n}", description=leg.description)
        for n, leg in enumerate(legs)]
    session.add_all(transfers)
    session.flush()
    return transfers


def spend_legs(accounts: dict[AccountKind, Account], sink: Account, amount: int, kind: TransferKind, *,
               status: TransferStatus = TransferStatus.posted, description: str | None = None) -> list[Leg]:
    """Take `amount` from granted credits first and the rest from purchased; refuse if short."""
    granted, purchased = accounts[AccountKind.granted], accounts[AccountKind.purchased]
    available = {a: max(0, a.balance - a.pending) for a in (granted, purchased)}
    if amount > sum(available.values()):
        raise InsufficientFunds("not enough credits available",
                                details={"requested": amount, "available": sum(available.values())})
    from_granted = min(amount, available[granted])
    return [Leg(source, sink, part, kind, status, description=description)
            for source, part in ((granted, from_granted), (purchased, amount - from_granted)) if part]
