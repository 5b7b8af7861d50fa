"""Beat's repairs: resend lost messages, reap dead workers' jobs, forget old finished jobs.

Each is safe to run twice at once (two beats): rows are taken with SKIP LOCKED and every change
is a conditional UPDATE, so a second run finds nothing left to do.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task

from models.base import utcnow
from services import jobs as job_service
from services.metrics import record_finished
from tasks import dispatch
from tasks.base import AppContextTask
from web.runtime import get_db, get_settings
from worker.queues import queue_depths

log = logging.getLogger(__name__)


@shared_task(name="conveyor.maintenance.dispatch_outbox", base=AppContextTask)
def dispatch_outbox() -> int:
    """Re-publish queued jobs whose message seems lost, but never more than the broker lacks.

    A long queue holds a message for each of its waiting jobs: only jobs beyond the broker's queue
    depth can be missing, so a busy queue is not flooded with duplicates.
    """
    settings, db = get_settings(), get_db()
    redispatch_after = timedelta(seconds=settings.outbox_redispatch_after_seconds)
    with db.Session.begin() as session:
        suspects = job_service.count_undelivered(session, redispatch_after=redispatch_after)
    if not suspects:
        return 0
    depths = queue_depths(list(suspects))
    limits = {q: min(settings.outbox_batch_size, n - (depths.get(q) or 0)) for q, n in suspects.items()}
    with db.Session.begin() as session:
        taken = [(job.id, job.kind) for job in
                 job_service.take_undelivered(session, redispatch_after=redispatch_after, limits=limits)]
    sent = sum(dispatch.publish(job_id, kind) for job_id, kind in taken)
    if taken:
        log.info("outbox re-published %d of %d jobs", sent, len(taken))
    return sent


@shared_task(name="conveyor.maintenance.reap_leases", base=AppContextTask)
def reap_leases() -> dict:
    """Re-queue running jobs whose worker died (their lease ran out), or fail them when out of attempts."""
    with get_db().Session.begin() as session:
        requeued, failed = job_service.reap_expired_leases(session)
        requeued = [(job.id, job.kind) for job in requeued]
        failed = [(job.kind, job.status.value) for job in failed]
    for kind, status in failed:
        record_finished(kind, status)
    for job_id, kind in requeued:
        dispatch.publish(job_id, kind)
    if requeued or failed:
        log.warning("lease reaper re-queued %d and ended %d jobs", len(requeued), len(failed))
    return {"requeued": len(requeued), "failed": len(failed)}


@shared_task(name="conveyor.maintenance.cleanup_jobs", base=AppContextTask)
def cleanup_jobs() -> int:
    """Delete finished jobs older than JOB_RETENTION_DAYS."""
    cutoff = utcnow() - timedelta(days=get_settings().job_retention_days)
    with get_db().Session.begin() as session:
        deleted = job_service.delete_finished_before(session, cutoff)
    log.info("deleted %d finished jobs older than %s", deleted, cutoff.isoformat())
    return deleted
