"""Reading the rollups (never the ledger or the jobs table): sums over a range of days, grouped."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import UsageDaily, UsageTierDaily
from models.usage import MEASURES

# group_by -> (the rollup that answers it, the column grouped by, its name in the answer)
GROUPS = {
    "day": (UsageTierDaily, UsageTierDaily.day, "day"),  # the tier rollup has fewer rows a day, same sums
    "tier": (UsageTierDaily, UsageTierDaily.tier, "tier"),
    "user": (UsageDaily, UsageDaily.user_id, "user_id"),
    "model": (UsageDaily, UsageDaily.model, "model"),
}


def usage(session: Session, first: date, last: date, group_by: str, *, user_id: int | None = None) -> list[dict]:
    """Each group's measures over the days `first`..`last`; only `user_id`'s when given."""
    table, key, name = GROUPS[group_by]
    if user_id is not None:  # one user's rows are in the per-user rollup only
        table, key = UsageDaily, getattr(UsageDaily, key.key)
    stmt = (select(key, *(func.sum(getattr(table, m)) for m in MEASURES))
            .where(table.day >= first, table.day <= last).group_by(key).order_by(key))
    if user_id is not None:
        stmt = stmt.where(UsageDaily.user_id == user_id)
    return [{name: row[0], **{m: int(v) for m, v in zip(MEASURES, row[1:])}} for row in session.execute(stmt)]


def spent_by_tier(session: Session) -> dict[str, int]:
    """Credits spent by tier over every rolled-up day."""
    return {tier: int(total) for tier, total in session.execute(
        select(UsageTierDaily.tier, func.sum(UsageTierDaily.credits_spent)).group_by(UsageTierDaily.tier))}
