"""Reconciliation: check every invariant of the ledger and list each mismatch."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from models import Account, HoldState, LedgerOperation, Transfer, TransferKind, TransferStatus
from services.billing.balances import posted_balances
from services.subscriptions.checks import subscription_mismatches


def reconcile(session: Session) -> list[dict]:
    """Every broken invariant as {"check", ...}; an empty list means the books balance."""
    mismatches: list[dict] = []
    posted = posted_balances(session)
    # Users' stored balances and the system accounts' summed ones cancel out.
    users = session.scalar(select(func.coalesce(func.sum(Account.balance), 0)).where(Account.owner_id.is_not(None)))
    systems = session.scalars(select(Account.id).where(Account.owner_id.is_(None))).all()
    total = int(users) + sum(posted.get(account_id, 0) for account_id in systems)
    if total != 0:
        mismatches.append({"check": "balances_sum_to_zero", "sum": total})
    held = dict(session.execute(select(Transfer.debit_account_id, func.sum(Transfer.amount))
                                .where(Transfer.status == TransferStatus.pending)
                                .group_by(Transfer.debit_account_id)).all())
    for account in session.scalars(select(Account).order_by(Account.id)):
        # A system account's row keeps no balance (ledger.py): its transfers are its balance.
        expected = posted.get(account.id, 0) if account.owner_id is not None else 0
        if account.balance != expected:
            mismatches.append({"check": "balance_equals_posted_transfers", "account_id": account.id,
                               "balance": account.balance, "expected": expected})
        if account.pending != int(held.get(account.id, 0)):
            mismatches.append({"check": "pending_equals_open_holds", "account_id": account.id,
                               "pending": account.pending, "expected": int(held.get(account.id, 0))})
        if account.owner_id is not None and account.balance - account.pending < 0:
            mismatches.append({"check": "user_account_not_negative", "account_id": account.id,
                               "available": account.balance - account.pending})
    mismatches += _holds(session) + _refunds(session) + subscription_mismatches(session)
    return mismatches


def _holds(session: Session) -> list[dict]:
    """An open hold's reservations are pending; a resolved one's are voided and captured at most once."""
    reservations = defaultdict(lambda: defaultdict(int))
    for operation_id, status, n in session.execute(
            select(Transfer.operation_id, Transfer.status, func.count())
            .where(Transfer.kind == TransferKind.hold).group_by(Transfer.operation_id, Transfer.status)):
        reservations[operation_id][status] = n
    leg, capture = aliased(Transfer), aliased(Transfer)
    captured = {hold_id: (int(total), n) for hold_id, total, n in session.execute(
        select(leg.operation_id, func.sum(capture.amount), func.count(func.distinct(capture.operation_id)))
        .join(leg, capture.reference_id == leg.id)
        .where(capture.kind == TransferKind.charge, leg.kind == TransferKind.hold).group_by(leg.operation_id))}
    found = []
    for hold_id, state, amount in session.execute(
            select(LedgerOperation.id, LedgerOperation.state, LedgerOperation.amount)
            .where(LedgerOperation.state.is_not(None))):
        legs, (taken, captures) = reservations[hold_id], captured.get(hold_id, (0, 0))
        problems = []
        if legs[TransferStatus.posted]:
            problems.append("a reservation was posted")
        if state == HoldState.open and (taken or not legs[TransferStatus.pending]):
            problems.append("open but already captured or released")
        if state != HoldState.open and legs[TransferStatus.pending]:
            problems.append("resolved but still pending")
        if state == HoldState.voided and taken:
            problems.append("voided and captured")
        if captures > 1 or taken > amount:
            problems.append("captured more than once or more than held")
        if problems:
            found.append({"check": "hold_resolved_once", "hold_id": str(hold_id), "state": state.value,
                          "problems": problems})
    return found


def _refunds(session: Session) -> list[dict]:
    charge, refund = aliased(Transfer), aliased(Transfer)
    rows = session.execute(
        select(charge.id, charge.amount, func.sum(refund.amount))
        .join(refund, (refund.reference_id == charge.id) & (refund.kind == TransferKind.refund))
        .group_by(charge.id, charge.amount).having(func.sum(refund.amount) > charge.amount))
    return [{"check": "refunds_within_charge", "transfer_id": tid, "charged": amount, "refunded": int(total)}
            for tid, amount, total in rows]
