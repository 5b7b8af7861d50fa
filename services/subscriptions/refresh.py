"""The refresh of due subscriptions, a batch at a time, set-based: a batch of any size is a fixed
handful of statements (claim, lock the granted accounts, then batch_writes.py: operations, transfers,
one UPDATE of the accounts, one of the subscriptions), never one per user.

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
month ends from the anchor, which SQL dialects cannot agree on), then written set-based.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from models import Account, AccountKind, Subscription, SubscriptionStatus, Tier, TransferKind
from services.billing.ledger import fingerprint, system_account_id
from services.subscriptions.batch_writes import stored, write_batch
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
    rows = [{"owner_id": user_id, "kind": AccountKind.granted, "balance": 0, "pending": 0, "created_at": now}
            for user_id in user_ids]
    session.execute(upsert(Account.__table__).values(rows).on_conflict_do_nothing())


def _lock_granted_accounts(session: Session, user_ids: list[int], now: datetime) -> dict:
    """The users' granted accounts by user, locked in id order (opened first for users without one)."""
    def lock():
        return {a.owner_id: a for a in session.execute(
            select(Account.id, Account.owner_id, Account.balance, Account.pending)
            .where(Account.owner_id.in_(user_ids), Account.kind == AccountKind.granted)
            .order_by(Account.id).with_for_update())}

    accounts = lock()
    if len(accounts) < len(set(user_ids)):
        _open_granted_accounts(session, [u for u in set(user_ids) if u not in accounts], now)
        accounts = lock()
    return accounts


def _claim(session: Session, now: datetime, limit: int) -> list:
    """Lock up to `limit` due subscriptions, skipping those another refresh holds. One index range scan
    per status on (status, period_end): refreshed rows leave the range, so no batch rescans them."""
    claimed: list = []
    for status in (SubscriptionStatus.active, SubscriptionStatus.past_due, SubscriptionStatus.cancelled):
        if len(claimed) >= limit:
            break
        due = [Subscription.status == status, Subscription.period_end <= now]
        if status == SubscriptionStatus.cancelled:
            due.append(Subscription.period_granted > 0)  # only while its last grant may still expire
        claimed += session.execute(
            select(Subscription.id, Subscription.user_id, Subscription.status, Subscription.tier_id,
                   Subscription.next_tier_id, Subscription.anchor_at, Subscription.period_granted)
            .where(*due).limit(limit - len(claimed)).with_for_update(skip_locked=True)).all()
    return claimed


def refresh_batch(session: Session, now: datetime, limit: int) -> BatchOutcome:
    """Refresh up to `limit` due subscriptions in the caller's transaction."""
    outcome = BatchOutcome()
    claimed = _claim(session, now, limit)
    if not claimed:
        return outcome
    tiers = {tier.id: tier for tier in session.scalars(select(Tier))}
    accounts = _lock_granted_accounts(session, [row.user_id for row in claimed], now)
    rows = []
    for row in claimed:
        ending, tier = tiers[row.tier_id], tiers[row.next_tier_id or row.tier_id]
        start, end = period_containing(row.anchor_at, tier.period, now)
        grant = tier.credits_per_period if row.status == SubscriptionStatus.active else 0
        account = accounts[row.user_id]
        expired = expiry_amount(row.period_granted, account.balance - account.pending, ending)
        # The parameters renew() (grants.py) records for the same operation.
        params = {"subscription_id": row.id, "tier_id": tier.id, "period_start": start}
        rows.append({"sid": row.id, "uid": row.user_id, "acct": account.id, "start": stored(session, start),
                     "end": stored(session, end), "tier": tier.id, "grant": grant, "expired": expired,
                     "op": stored(session, uuid.uuid4()), "key": period_key(row.id, start),
                     "fp": fingerprint(TransferKind.grant, params)})
        outcome.granted[tier.name] += grant
        outcome.expired[ending.name] += expired
    write_batch(session, rows, grants_id=system_account_id(session, GRANTS),
                expired_id=system_account_id(session, EXPIRED), now=now)
    outcome.refreshed = len(claimed)
    return outcome
