"""Job kinds that only the tests run, to exercise the runtime: steps, children, time limits.

Worker processes the tests start load them with `-I tests.kinds`; the in-process worker imports them.
"""

from __future__ import annotations

import time

from sqlalchemy import text

from models import JobEvent
from tasks.base import job_task
from tasks.context import JobContext


@job_task("tests.stepper")
def stepper(job: JobContext, payload: dict) -> dict:
    """`steps` steps, each sleeping `sleep_ms` (no transaction open) and then writing one `mark` row."""
    start = (job.checkpoint or {}).get("next", 0)
    steps = payload["steps"]
    for k in range(start, steps):
        job.sleep(payload.get("sleep_ms", 0) / 1000)
        with job.step({"next": k + 1}, done=k + 1, total=steps, message=f"step {k + 1}") as session:
            session.add(JobEvent(job_id=job.job_id, attempt=job.attempt, event="mark", detail=str(k)))
    return {"steps": steps, "resumed_from": start}


@job_task("tests.fanout")
def fanout(job: JobContext, payload: dict) -> dict:
    """Make `children` ping jobs, wait for them, then sum up their results."""
    if job.checkpoint is None:
        with job.step({"spawned": True}) as session:
            for n in range(payload["children"]):
                job.spawn(session, "ping", {**payload.get("child", {}), "steps": 0}, idempotency_key=f"child-{n}")
        job.wait_for_children()
    children = job.children()
    return {"children": len(children), "succeeded": sum(c.status.value == "succeeded" for c in children),
            "runs": job.attempt}


@job_task("tests.hang", soft_time_limit=1, time_limit=2)
def hang(job: JobContext, payload: dict) -> dict:
    """Runs for `seconds`: cooperatively (job.sleep) or deaf to every request to stop (time.sleep)."""
    if payload.get("cooperative", True):
        job.sleep(payload["seconds"])
    else:
        deadline = time.monotonic() + payload["seconds"]
        while time.monotonic() < deadline:
            time.sleep(0.05)
    return {"slept": payload["seconds"]}


@job_task("tests.leaky")
def leaky(job: JobContext, payload: dict) -> dict:
    """Fails on a database error whose statement carries `secret` as a parameter (a duplicate key)."""
    insert = text("INSERT INTO users (id, email, password_hash, role, created_at) "
                  "VALUES (:id, :email, :secret, 'customer', CURRENT_TIMESTAMP)")
    job.session.execute(insert, {"id": payload["user_id"], "email": "leaky@example.com", "secret": payload["secret"]})
    job.session.flush()
    return {}
