"""The dashboard: each branch's figures today so far (from its sales), its last 7 days (from the
stored summaries) and the products sold most over those days and today."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Branch
from services.reports import daily
from services.reports.days import today

TREND_DAYS = 7


def dashboard(session: Session, branch_ids: list[int] | None, now: datetime) -> dict:
    stmt = select(Branch).order_by(Branch.id)
    if branch_ids is not None:
        stmt = stmt.where(Branch.id.in_(branch_ids))
    branches, tops = [], []
    for branch in session.scalars(stmt):
        day = today(branch.timezone, now)
        figures = daily.figures(session, branch, day, until=now)
        stored = {s.day: s for s in daily.summaries(session, [branch.id], day - timedelta(days=TREND_DAYS),
                                                    day - timedelta(days=1))}
        trend = [_trend_day(d, stored.get(d)) for d in (day - timedelta(days=n) for n in range(TREND_DAYS, 0, -1))]
        tops.append(figures["top_products"])
        tops.extend(s.top_products for s in stored.values())
        branches.append({"branch_id": branch.id, "code": branch.code, "name": branch.name, "today": str(day),
                         "timezone": branch.timezone, "today_figures": figures, "last_7_days": trend})
    return {"branches": branches, "top_products": daily.merge_top(tops)}


def _trend_day(day, summary) -> dict:
    """A past day's count and total; null for a day not summed (yet)."""
    return {"day": str(day), "sales_count": summary.sales_count if summary else None,
            "total": daily.amount_text(summary.total) if summary else None}
