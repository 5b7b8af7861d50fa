"""A period's grant and the expiry of the previous one, for one subscription (the refresh does the
same for a whole batch at once: services/subscriptions/refresh.py).

The expiry rule, at the end of a period, for the user's `granted` account:

    expired = max(0, min(period_granted, available - keep))

- `period_granted`: what the ending period granted (its refresh's grant plus any upgrade's); no more
  than that expires. The account's other granted credits (a signup bonus, earlier rollovers) count as
  spent first: what is available beyond the period's grant stays.
- `available` = balance - pending: credits held by an open hold are never taken, and purchased
  credits live in the `purchased` account, which a refresh never touches.
- `keep`: the ending period's tier's rollover: 0 without rollover; `rollover_cap` with a cap; without
  a cap nothing expires. With a cap, the account keeps at most `keep` available credits once the
  ending period's grant has expired down to it, so rolled-over credits never pile up past the cap.

Grants come from the system account `grants` (TransferKind.grant), expiries go to `expired`
(TransferKind.expiry); one ledger operation per (subscription, period), keyed
`refresh:<subscription id>:<period start, ISO 8601 UTC>` (services/subscriptions/periods.py).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import event
from sqlalchemy.orm import Session

from models import AccountKind, Subscription, SubscriptionStatus, Tier, TransferKind
from services.billing.ledger import Leg, apply, begin_operation, lock_user, system_account_id
from services.metrics import record_credits
from services.subscriptions.periods import period_key

GRANTS, EXPIRED = "grants", "expired"  # the system accounts grants come from and expiries go to
_COUNTS = "conveyor.subscription_credits"


def rollover_keep(tier: Tier) -> int | None:
    """How many available granted credits a period's end leaves (None: all of them)."""
    if not tier.rollover:
        return 0
    return tier.rollover_cap


def expiry_amount(period_granted: int, available: int, tier: Tier) -> int:
    """The rule in this module's docstring."""
    keep = rollover_keep(tier)
    if keep is None:
        return 0
    return max(0, min(period_granted, available - keep))


def count_after_commit(session: Session, tier_names: list[tuple[str, int, int]]) -> None:
    """Count (tier, granted, expired) in the metrics once the session's transaction commits, not before."""
    counts = session.info.get(_COUNTS)
    if counts is None:
        counts = session.info[_COUNTS] = (Counter(), Counter())

        def committed(s):
            granted, expired = s.info.pop(_COUNTS, (Counter(), Counter()))
            record_credits(dict(granted), dict(expired))

        event.listen(session, "after_commit", committed, once=True)
        event.listen(session, "after_soft_rollback", lambda s, _t: s.info.pop(_COUNTS, None), once=True)
    for name, granted, expired in tier_names:
        counts[0][name] += granted
        counts[1][name] += expired


def renew(session: Session, subscription: Subscription, ending_tier: Tier, tier: Tier, start: datetime,
          end: datetime) -> dict:
    """Expire the unused part of the current period's grant (by `ending_tier`'s rollover) and grant
    `tier`'s allowance (nothing unless active) for the period [start, end), in one ledger operation."""
    grant = tier.credits_per_period if subscription.status == SubscriptionStatus.active else 0
    operation, done = begin_operation(
        session, key=period_key(subscription.id, start), kind=TransferKind.grant, user_id=subscription.user_id,
        amount=grant, params={"subscription_id": subscription.id, "tier_id": tier.id, "period_start": start})
    if done:
        return operation.result
    locked = lock_user(session, subscription.user_id, GRANTS)
    granted_account = locked.accounts[AccountKind.granted]
    expired = expiry_amount(subscription.period_granted, granted_account.available, ending_tier)
    legs = [leg for leg in (
        Leg(granted_account.id, system_account_id(session, EXPIRED), expired, TransferKind.expiry,
            description=f"unused grant of subscription {subscription.id}"),
        Leg(locked.system_id, granted_account.id, grant, TransferKind.grant,
            description=f"{tier.name} from {start.isoformat()}")) if leg.amount]
    subscription.tier_id, subscription.period_start, subscription.period_end = tier.id, start, end
    subscription.period_granted = grant
    count_after_commit(session, [(tier.name, grant, 0), (ending_tier.name, 0, expired)])
    return apply(session, operation, legs, users=locked.ids, subscription_id=subscription.id,
                 period_start=start.isoformat(), granted=grant, expired=expired)
