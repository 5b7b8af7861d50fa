"""The refresh of due subscriptions, a batch at a time, set-based: a batch of any size is a fixed
handful of statements (claim, open missing accounts, lock accounts, operations, transfers, one
UPDATE of the accounts, one UPDATE of the subscriptions), never one per user.

A batch is claimed with SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL; SQLite's writers are
serialised by BEGIN IMMEDIATE) and its period advance commits with its transfers in the caller's
transaction (a job step): a (subscription, period) is granted exactly once because a concurrent
refresh either skips the locked rows or finds them no longer due; the unique ledger keys
`refresh:<subscription>:<period start>` are the last line of defence.

Catch-up: a subscription late by several periods jumps to the period containing `now`. It gets one
grant, for that period; the missed periods are not granted; the last grant's unused part expires by
the usual rule (grants.py). A due downgrade (`next_tier_id`) takes effect; cancelled and past-due
subscriptions get no grant (a cancelled one is claimed only while its last grant may still expire).

Amounts are computed in Python from rows locked in the same transaction (period boundaries clamp
month ends from the anchor, which SQL dialects cannot agree on), then written with CASE-based
UPDATEs and multi-row INSERTs.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from models import (Account, AccountKind, LedgerOperation, Subscription, SubscriptionStatus, Tier, Transfer,
                    TransferKind, TransferStatus)
from services.billing.ledger import fingerprint, system_account
from services.subscriptions.grants import EXPIRED, GRANTS, expiry_amount
from services.subscriptions.periods import period_containing, period_key


@dataclass
class BatchOutcome:
    refreshed: int = 0
    granted: Counter = field(default_factory=Counter)  # by tier name
    expired: Counter = field(default_factory=Counter)


def _due(now: datetime):
    """Subscriptions whose period has ended: active and past-due ones, cancelled ones with a grant to expire."""
    return (Subscription.period_end <= now) & or_(Subscription.status != SubscriptionStatus.cancelled,
                                                   Subscription.period_granted > 0)


def oldest_due(session: Session, now: datetime) -> datetime | None:
    """The earliest end among due periods (how late the refresh is)."""
    return session.scalar(select(func.min(Subscription.period_end)).where(_due(now)))


def count_due(session: Session, now: datetime) -> int:
    return session.scalar(select(func.count()).select_from(Subscription).where(_due(now)))


def _open_granted_accounts(session: Session, user_ids: list[int], now: datetime) -> None:
    """Users who never had a `granted` account get one (one statement; a concurrent insert wins quietly)."""
    upsert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    missing = select(Subscription.user_id, literal(AccountKind.granted.value), literal(0), literal(0),
                     literal(now, Account.created_at.type)).where(
        Subscription.user_id.in_(user_ids),
        ~select(Account.id).where(Account.owner_id == Subscription.user_id,
                                  Account.kind == AccountKind.granted).exists())
    session.execute(upsert(Account.__table__).from_select(
        ["owner_id", "kind", "balance", "pending", "created_at"], missing).on_conflict_do_nothing())


def refresh_batch(session: Session, now: datetime, limit: int) -> BatchOutcome:
    """Refresh up to `limit` due subscriptions in the caller's transaction."""
    claimed = session.execute(
        select(Subscription.id, Subscription.user_id, Subscription.status, Subscription.tier_id,
               Subscription.next_tier_id, Subscription.anchor_at, Subscription.period_granted)
        .where(_due(now)).order_by(Subscription.id).limit(limit)
        .with_for_update(skip_locked=True)).all()
    outcome = BatchOutcome()
    if not claimed:
        return outcome
    tiers = {tier.id: tier for tier in session.scalars(select(Tier))}
    user_ids = [row.user_id for row in claimed]
    _open_granted_accounts(session, user_ids, now)
    accounts = {a.owner_id: a for a in session.execute(
        select(Account.id, Account.owner_id, Account.balance, Account.pending)
        .where(Account.owner_id.in_(user_ids), Account.kind == AccountKind.granted)
        .order_by(Account.id).with_for_update())}
    grants_id, expired_id = system_account(session, GRANTS).id, system_account(session, EXPIRED).id
    operations, transfers, deltas, periods = [], [], {}, {}
    for row in claimed:
        ending, tier = tiers[row.tier_id], tiers[row.next_tier_id or row.tier_id]
        start, end = period_containing(row.anchor_at, tier.period, now)
        grant = tier.credits_per_period if row.status == SubscriptionStatus.active else 0
        account = accounts[row.user_id]
        expired = expiry_amount(row.period_granted, account.balance - account.pending, ending)
        key, operation_id = period_key(row.id, start), uuid.uuid4()
        operations.append(_operation(operation_id, key, row, tier, start, grant, expired, now))
        legs = [leg for leg in ((account.id, expired_id, expired, TransferKind.expiry),
                                (grants_id, account.id, grant, TransferKind.grant)) if leg[2]]
        transfers += [{"debit_account_id": debit, "credit_account_id": credit, "amount": amount, "kind": kind,
                       "status": TransferStatus.posted, "operation_id": operation_id, "job_id": None,
                       "reference_id": None, "idempotency_key": f"{key}#{n}", "created_at": now,
                       "description": f"refresh of subscription {row.id}"}
                      for n, (debit, credit, amount, kind) in enumerate(legs)]
        deltas[account.id] = grant - expired
        periods[row.id] = (start, end, tier.id, grant)
        outcome.granted[tier.name] += grant
        outcome.expired[ending.name] += expired
    session.execute(insert(LedgerOperation.__table__), operations)
    if transfers:
        session.execute(insert(Transfer.__table__), transfers)
    moved = {account_id: delta for account_id, delta in deltas.items() if delta}
    if moved:
        session.execute(update(Account).where(Account.id.in_(list(moved)))
                        .values(balance=Account.balance + case(moved, value=Account.id))
                        .execution_options(synchronize_session=False))
    session.execute(update(Subscription).where(Subscription.id.in_(list(periods))).values(
        **{name: _by_id(periods, n, getattr(Subscription, name)) for n, name in enumerate(
            ("period_start", "period_end", "tier_id", "period_granted"))},
        next_tier_id=None, updated_at=now).execution_options(synchronize_session=False))
    outcome.refreshed = len(claimed)
    return outcome


def _by_id(periods: dict[int, tuple], n: int, column):
    """CASE id WHEN ... THEN the n-th value of that subscription's new period END, typed as `column`."""
    return case({i: literal(values[n], column.type) for i, values in periods.items()}, value=Subscription.id)


def _operation(operation_id: uuid.UUID, key: str, row, tier: Tier, start: datetime, grant: int, expired: int,
               now: datetime) -> dict:
    # The parameters renew() (grants.py) records for the same operation.
    params = {"subscription_id": row.id, "tier_id": tier.id, "period_start": start}
    return {"id": operation_id, "idempotency_key": key, "kind": TransferKind.grant,
            "fingerprint": fingerprint(TransferKind.grant, params),
            "user_id": row.user_id, "job_id": None, "amount": grant, "state": None, "expires_at": None,
            "resolved_at": None, "created_at": now,
            "result": {"subscription_id": row.id, "period_start": start.isoformat(), "granted": grant,
                       "expired": expired}}
