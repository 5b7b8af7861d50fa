"""Beat's timed tasks (`conveyor.beat.*`, on the `maintenance` queue): the runtime's repairs, hold
expiry, and `start_job`, which turns a schedule entry into a system job.

Each is safe to run twice at once (two beats): rows are taken with SKIP LOCKED, every change is a
conditional UPDATE, and a scheduled job's idempotency key is its scheduled minute.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from celery import shared_task

from models.base import utcnow
from services import billing
from services import jobs as job_service
from services.reports import daily
from services.errors import DomainError
from services.metrics import record_finished
from worker.celery_app import AppContextTask
from worker.queues import claimed_through, queue_depths
from worker.runtime import get_runtime
from worker.submission import enqueue

log = logging.getLogger(__name__)
# Days looked back at each pass (each summed once): well within JOB_RETENTION_DAYS, which keeps the keys.
CLOSE_LOOKBACK_DAYS = 3


@shared_task(name="conveyor.beat.start_job", base=AppContextTask)
def start_job(kind: str, payload: dict) -> str:
    """Create the system job `kind` for this scheduled minute (once, however many beats ask)."""
    with get_runtime().db.Session.begin() as session:
        job, created = enqueue(session, kind, payload, idempotency_key=f"beat {kind} {utcnow():%Y-%m-%dT%H:%M}")
    if created:
        log.info("beat started a %s job", kind, extra={"job_id": str(job.id)})
    return str(job.id)


@shared_task(name="conveyor.beat.close_days", base=AppContextTask)
def close_days() -> int:
    """Start a `reports.daily_summary` system job for each branch's last closed local days, once per
    branch and day (its idempotency key): run hourly, it catches each time zone's midnight, and a
    beat that was down for a while catches up on the days it missed."""
    created = 0
    with get_runtime().db.Session.begin() as session:
        for branch in daily.active_branches(session):
            for day in daily.closed_days(branch, utcnow(), CLOSE_LOOKBACK_DAYS):
                created += enqueue(session, "reports.daily_summary", {"branch_id": branch.id, "day": str(day)},
                                   idempotency_key=f"daily-summary {branch.id} {day}")[1]
    if created:
        log.info("beat started %d daily summaries", created)
    return created


@shared_task(name="conveyor.beat.dispatch_outbox", base=AppContextTask)
def dispatch_outbox() -> int:
    """Re-publish queued jobs whose message is lost, without flooding a long healthy queue.

    A message sent before one that a worker has already taken from the same queue is lost; of the
    others, only as many as the broker queue lacks may be (see services/jobs/repairs.py).
    """
    runtime = get_runtime()
    settings = runtime.settings
    redispatch_after = timedelta(seconds=settings.outbox_redispatch_after_seconds)
    with runtime.db.read() as session:
        suspects = job_service.count_undelivered(session, redispatch_after=redispatch_after)
    if not suspects:
        return 0
    depths = queue_depths(list(suspects))
    tail = {queue: n - (depths.get(queue) or 0) for queue, n in suspects.items()}
    through = claimed_through(runtime.redis, list(suspects))
    with runtime.db.Session.begin() as session:
        taken = len(job_service.take_undelivered(session, redispatch_after=redispatch_after,
                                                 batch=settings.outbox_batch_size, tail=tail,
                                                 claimed_through=through))
    if taken:
        log.info("outbox re-published %d jobs", taken)
    return taken


@shared_task(name="conveyor.beat.reap_leases", base=AppContextTask)
def reap_leases() -> dict:
    """Re-queue running jobs whose worker died or hung (their lease ran out), or end them when out of attempts."""
    with get_runtime().db.Session.begin() as session:
        requeued, ended = job_service.reap_expired_leases(session)
        ended = [(job.kind, job.status.value) for job in ended]
    for kind, status in ended:
        record_finished(kind, status)
    if requeued or ended:
        log.warning("lease reaper re-queued %d and ended %d jobs", len(requeued), len(ended))
    return {"requeued": len(requeued), "failed": len(ended)}


@shared_task(name="conveyor.beat.cleanup_jobs", base=AppContextTask)
def cleanup_jobs() -> int:
    """Delete finished jobs older than JOB_RETENTION_DAYS."""
    runtime = get_runtime()
    cutoff = utcnow() - timedelta(days=runtime.settings.job_retention_days)
    with runtime.db.Session.begin() as session:
        deleted = job_service.delete_finished_before(session, cutoff)
    log.info("deleted %d finished jobs older than %s", deleted, cutoff.isoformat())
    return deleted


@shared_task(name="conveyor.beat.expire_holds", base=AppContextTask)
def expire_holds() -> int:
    """Void holds past their expiry, each in its own transaction (a second beat finds them resolved)."""
    db, voided = get_runtime().db, 0
    with db.read() as session:
        due = billing.expired_holds(session)
    for hold_id in due:
        try:
            with db.Session.begin() as session:
                billing.void(session, uuid.UUID(str(hold_id)))
            voided += 1
        except DomainError:  # resolved meanwhile by its owner or by another beat
            pass
    return voided
