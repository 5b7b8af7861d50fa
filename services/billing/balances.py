"""System accounts' balances: not stored on their rows (see ledger.py), summed from their posted transfers."""

from __future__ import annotations

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from models import Account, Transfer, TransferStatus


def posted_balances(session: Session, account_ids=None) -> dict[int, int]:
    """Credits minus debits of posted transfers, per account (all accounts, or those given)."""
    posted = Transfer.status == TransferStatus.posted
    legs = union_all(
        select(Transfer.credit_account_id.label("account_id"), Transfer.amount.label("amount")).where(posted),
        select(Transfer.debit_account_id.label("account_id"), (-Transfer.amount).label("amount")).where(posted),
    ).subquery()
    stmt = select(legs.c.account_id, func.sum(legs.c.amount)).group_by(legs.c.account_id)
    if account_ids is not None:
        stmt = stmt.where(legs.c.account_id.in_(list(account_ids)))
    return {account_id: int(total) for account_id, total in session.execute(stmt)}


def system_balances(session: Session) -> dict[str, int]:
    """Each system account's balance by name."""
    names = dict(session.execute(select(Account.id, Account.name).where(Account.owner_id.is_(None))).all())
    sums = posted_balances(session, names) if names else {}
    return {name: sums.get(account_id, 0) for account_id, name in names.items()}
