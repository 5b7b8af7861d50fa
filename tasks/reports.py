"""Report jobs: a branch's closed day summed (beat, once per branch-day), any range rebuilt (admins), low-stock
crossings recorded (beat)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from models import Branch
from services.reports import daily, low_stock
from services.reports.days import check_range
from tasks.base import job_task
from tasks.context import JobContext


@job_task("reports.daily_summary")
def daily_summary(job: JobContext, payload: dict) -> dict:
    """Sum the branch's day and upsert it: run again, it writes the same figures."""
    return daily.summarise(job.session, payload["branch_id"], date.fromisoformat(payload["day"]))


@job_task("reports.rebuild_daily")
def rebuild_daily(job: JobContext, payload: dict) -> dict:
    """Re-sum every day of the range for one branch (or all), a branch a step: a crash resumes at the
    next branch, and a branch summed twice is summed the same."""
    days = check_range(date.fromisoformat(payload["from"]), date.fromisoformat(payload["to"]),
                       job.runtime.settings.reports_max_days)
    with job.db.read() as session:
        branch_ids = ([payload["branch_id"]] if payload.get("branch_id") is not None
                      else list(session.scalars(select(Branch.id).order_by(Branch.id))))
    start = (job.checkpoint or {"next": 0})["next"]
    for index in range(start, len(branch_ids)):
        with job.step({"next": index + 1}, done=index + 1, total=len(branch_ids)) as session:
            for day in days:
                daily.summarise(session, branch_ids[index], day)
    return {"branches": len(branch_ids), "days": len(days), "summaries": len(branch_ids) * len(days)}


@job_task("reports.low_stock_events")
def low_stock_events(job: JobContext, payload: dict) -> dict:
    """Record each stock row's fall to or below its minimum once, and its recovery (beat, every 15 minutes)."""
    return low_stock.record_crossings(job.session)
