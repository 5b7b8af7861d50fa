"""Reconciliation of the refresh: every active subscription has exactly one grant for its current
period, and no (subscription, period) was granted twice."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import LedgerOperation, Subscription, SubscriptionStatus, Transfer, TransferKind
from services.subscriptions.periods import period_key

PREFIX = "refresh:"


def subscription_mismatches(session: Session) -> list[dict]:
    keys = set(session.scalars(select(LedgerOperation.idempotency_key)
                               .where(LedgerOperation.idempotency_key.startswith(PREFIX))))
    found = [{"check": "current_period_granted", "subscription_id": sid, "period_start": start.isoformat()}
             for sid, start in session.execute(select(Subscription.id, Subscription.period_start)
                                               .where(Subscription.status == SubscriptionStatus.active))
             if period_key(sid, start) not in keys]
    # Keys are unique as text; the same period written two ways would still be one period granted twice.
    periods = Counter((int(sid), datetime.fromisoformat(start))
                      for sid, start in (key[len(PREFIX):].split(":", 1) for key in keys))
    found += [{"check": "period_granted_once", "subscription_id": sid, "period_start": start.isoformat(),
               "grants": n} for (sid, start), n in periods.items() if n > 1]
    twice = session.execute(
        select(LedgerOperation.idempotency_key, func.count()).join(Transfer, Transfer.operation_id == LedgerOperation.id)
        .where(LedgerOperation.idempotency_key.startswith(PREFIX), Transfer.kind == TransferKind.grant)
        .group_by(LedgerOperation.idempotency_key).having(func.count() > 1))
    found += [{"check": "period_granted_once", "key": key, "grants": n} for key, n in twice]
    return found
