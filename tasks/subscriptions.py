"""The credit refresh (queue `billing`, with the ledger's other writers): beat starts it every minute as a
system job. It lives on the jobs worker line rather than `maintenance`, whose two threads keep beat's
short repairs (outbox, lease reaper) on time: a refresh of a million subscriptions runs for minutes.

Each batch of due subscriptions is a fenced step (services/subscriptions/refresh.py): a worker killed
half-way leaves whole batches committed, and the next attempt (or the next minute's job) claims only
what is still due.
"""

from __future__ import annotations

import time

from models.base import utcnow
from services.metrics import record_credits, record_refresh
from services.subscriptions import refresh
from tasks.base import job_task
from tasks.context import JobContext


@job_task("billing.refresh_subscriptions", soft_time_limit=3600, time_limit=3660)
def refresh_subscriptions(job: JobContext, payload: dict) -> dict:
    """Expire and grant every due subscription's credits, a batch per step, each once per period."""
    started, now = time.monotonic(), utcnow()
    with job.read() as session:
        oldest, total = refresh.oldest_due(session, now), refresh.count_due(session, now)
    state = dict(job.checkpoint or {"refreshed": 0})
    batch = job.runtime.settings.refresh_batch_size
    while True:
        with job.step(state, done=state["refreshed"], total=state["refreshed"] + total) as session:
            outcome = refresh.refresh_batch(session, now, batch)
            state["refreshed"] += outcome.refreshed  # committed with this step's checkpoint
        record_credits(outcome.granted, outcome.expired)
        total -= outcome.refreshed
        if outcome.refreshed < batch:
            break
    record_refresh(time.monotonic() - started, (now - oldest).total_seconds() if oldest else None)
    return {"refreshed": state["refreshed"]}
