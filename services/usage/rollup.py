"""The rollups, a day at a time: a day is recomputed whole from every source (delete and insert, in
the caller's one transaction), so recomputing it gives the same rows; only the days that changed
since the watermarks are recomputed.

A user's tier in `usage_tier_daily` is their subscription's (not cancelled) when the day is
recomputed, `free` without one: a day is filed under the tier the user is on when it is rolled up.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import and_, delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from models import Subscription, SubscriptionStatus, Tier, UsageDaily, UsageRollupState, UsageTierDaily
from models.usage import MEASURES
from services.subscriptions.terms import DEFAULT_TIER
from services.usage.sources import SOURCES

STATE_ID = 1  # the one row of usage_rollup_state


def plan(session: Session, now: datetime, grace: timedelta) -> tuple[list[date], dict]:
    """The days to recompute (sorted) and the watermarks to keep once they are."""
    marks = (session.get(UsageRollupState, STATE_ID) or UsageRollupState(marks={})).marks
    days, following = set(), {}
    for source in SOURCES:
        changed, following[source.name] = source.changed_days(session, marks.get(source.name), now, grace)
        days |= changed
    return sorted(days), following


def recompute_day(session: Session, day: date) -> int:
    """Rewrite `day`'s rows of both rollups from the sources; the number of (user, model) rows."""
    _lock_state(session)  # two rollups at once rewrite a day one after the other, never interleaved
    start = datetime.combine(day, time(0), timezone.utc)
    totals: dict[tuple[int, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(MEASURES, 0))
    for source in SOURCES:
        for user_id, model, measures in source.rows(session, start, start + timedelta(days=1)):
            row = totals[(user_id, model)]
            for name, value in measures.items():
                row[name] += value
    for row in totals.values():
        row["credits_spent"] = row["credits_charged"] + row["credits_captured"] - row["credits_refunded"]
    session.execute(delete(UsageDaily).where(UsageDaily.day == day))
    if totals:
        session.execute(insert(UsageDaily), [{"day": day, "user_id": user_id, "model": model, **row}
                                             for (user_id, model), row in sorted(totals.items())])
    session.execute(delete(UsageTierDaily).where(UsageTierDaily.day == day))
    tier = func.coalesce(Tier.name, DEFAULT_TIER)
    session.execute(insert(UsageTierDaily).from_select(
        ["day", "tier", *MEASURES],
        select(UsageDaily.day, tier, *(func.sum(getattr(UsageDaily, name)) for name in MEASURES))
        .outerjoin(Subscription, and_(Subscription.user_id == UsageDaily.user_id,
                                      Subscription.status != SubscriptionStatus.cancelled))
        .outerjoin(Tier, Tier.id == Subscription.tier_id)
        .where(UsageDaily.day == day).group_by(UsageDaily.day, tier)))
    return len(totals)


def save_marks(session: Session, marks: dict) -> None:
    """Keep the watermarks a run reached (a slower run may set older ones: its successor then only
    recomputes a few days more)."""
    _lock_state(session).marks = marks


def _lock_state(session: Session) -> UsageRollupState:
    upsert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(upsert(UsageRollupState).values(id=STATE_ID, marks={}, updated_at=datetime.now(timezone.utc))
                    .on_conflict_do_nothing(index_elements=["id"]))
    return session.scalar(select(UsageRollupState).where(UsageRollupState.id == STATE_ID).with_for_update()
                          .execution_options(populate_existing=True))
