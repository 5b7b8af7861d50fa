"""Period arithmetic, in UTC only: every boundary is derived from the subscription's anchor.

The n-th boundary of a subscription is `anchor + n periods`. A month is added to the anchor's
(year, month), and the day is the anchor's day clamped to that month's last day: anchored on
31 January, the boundaries are 28 (or 29) February, 31 March, 30 April... (computed from the
anchor, never from the previous end, so February's clamp does not stick). Daily and weekly periods
are exact multiples of 24 h and 7 x 24 h: the server's local zone and its DST play no part.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta, timezone

from models import Period

FIXED = {Period.daily: timedelta(days=1), Period.weekly: timedelta(weeks=1)}


def boundary(anchor: datetime, period: Period, n: int) -> datetime:
    """The n-th boundary after the anchor (n = 0 is the anchor itself)."""
    anchor = anchor.astimezone(timezone.utc)
    if period in FIXED:
        return anchor + n * FIXED[period]
    months = anchor.year * 12 + anchor.month - 1 + n
    year, month = divmod(months, 12)
    day = min(anchor.day, calendar.monthrange(year, month + 1)[1])
    return anchor.replace(year=year, month=month + 1, day=day)


def period_index(anchor: datetime, period: Period, at: datetime) -> int:
    """The n for which boundary(n) <= at < boundary(n + 1) (n may be negative before the anchor)."""
    anchor, at = anchor.astimezone(timezone.utc), at.astimezone(timezone.utc)
    if period in FIXED:
        return (at - anchor) // FIXED[period]
    n = (at.year - anchor.year) * 12 + at.month - anchor.month
    while boundary(anchor, period, n) > at:
        n -= 1
    while boundary(anchor, period, n + 1) <= at:
        n += 1
    return n


def period_containing(anchor: datetime, period: Period, at: datetime) -> tuple[datetime, datetime]:
    """The period [start, end) that contains `at`."""
    n = period_index(anchor, period, at)
    return boundary(anchor, period, n), boundary(anchor, period, n + 1)


def period_key(subscription_id: int, period_start: datetime) -> str:
    """The ledger idempotency key of a subscription's grant for the period starting at `period_start`."""
    return f"refresh:{subscription_id}:{period_start.astimezone(timezone.utc).isoformat()}"
