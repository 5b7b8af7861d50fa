"""Usage jobs: the rollup (beat, a system job every few minutes) of the days that changed."""

from __future__ import annotations

from datetime import date, timedelta

from models.base import utcnow
from services.usage import rollup
from tasks.base import job_task
from tasks.context import JobContext


@job_task("usage.rollup")
def roll_up(job: JobContext, payload: dict) -> dict:
    """Recompute each changed day in a step of its own, then keep the watermarks: a run killed half-way
    resumes at its next day with the same plan, and a day recomputed twice is the same."""
    plan = job.checkpoint
    if plan is None:
        grace = timedelta(seconds=job.runtime.settings.usage_rollup_grace_seconds)
        with job.read() as session:
            days, marks = rollup.plan(session, utcnow(), grace)
        plan = {"days": [str(day) for day in days], "marks": marks, "next": 0}
    days = plan["days"]
    for index in range(plan["next"], len(days)):
        with job.step({**plan, "next": index + 1}, done=index + 1, total=len(days)) as session:
            rollup.recompute_day(session, date.fromisoformat(days[index]))
    rollup.save_marks(job.session, plan["marks"])
    return {"days": days}
