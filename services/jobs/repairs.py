"""Beat's repairs: resend lost messages, take back dead workers' jobs, forget old finished jobs.

Each is safe to run twice at once (two beats): rows are taken with SKIP LOCKED and every change is
a conditional UPDATE, so a second run finds nothing left to do.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from models import FINISHED, Job, JobStatus
from models.base import utcnow
from services.jobs import after_commit
from services.jobs.lifecycle import child_ended
from services.jobs.trail import record


def _stale(now: datetime, redispatch_after: timedelta):
    """Queued, due, and not handed to the broker recently: its message may be lost."""
    return (Job.status == JobStatus.queued, Job.available_at <= now,
            or_(Job.dispatched_at.is_(None), Job.dispatched_at < now - redispatch_after))


def count_undelivered(session: Session, *, redispatch_after: timedelta) -> dict[str, int]:
    """How many jobs per queue look lost."""
    rows = session.execute(select(Job.queue, func.count()).where(*_stale(utcnow(), redispatch_after))
                           .group_by(Job.queue))
    return {queue: n for queue, n in rows}


def take_undelivered(session: Session, *, redispatch_after: timedelta, batch: int, tail: dict[str, int],
                     claimed_through: dict[str, datetime]) -> list[Job]:
    """Stale jobs whose message is surely or probably lost, stamped as dispatched and published after commit.

    Surely lost: never sent, or sent well before a job of the same queue that a worker has already
    claimed (`claimed_through[queue]`: the latest send time among claimed jobs). A queue hands out
    its messages in order, so a message sent before that one has been delivered, or was lost. This
    holds however long the queue is. Probably lost: of the other stale jobs, the oldest `tail[queue]`
    (how many more stale jobs there are than messages waiting in the broker). Rows another beat
    holds are skipped.
    """
    now = utcnow()
    taken: list[Job] = []
    for queue in set(tail) | set(claimed_through):
        stale = select(Job).where(Job.queue == queue, *_stale(now, redispatch_after))
        surely = Job.dispatched_at.is_(None)
        if queue in claimed_through:
            # Retries wait for their backoff in a worker: compare the later of sent and due.
            cutoff = claimed_through[queue] - redispatch_after
            surely = or_(surely, (Job.dispatched_at < cutoff) & (Job.available_at < cutoff))
        lost = list(session.scalars(stale.where(surely).order_by(Job.available_at).limit(batch)
                                    .with_for_update(skip_locked=True)))
        probably = min(batch - len(lost), tail.get(queue, 0))
        if probably > 0:
            lost += session.scalars(stale.where(~surely).order_by(Job.available_at).limit(probably)
                                    .with_for_update(skip_locked=True))
        taken += lost
    for job in taken:
        job.dispatched_at = now
        after_commit.publish(session, job.id, job.kind)
    return taken


def reap_expired_leases(session: Session) -> tuple[list[Job], list[Job]]:
    """Running jobs whose worker stopped renewing: re-queue them, or end those out of attempts.

    A lease stops being renewed at the attempt's hard time limit, so a hung job lands here too, with
    `time_limit_exceeded`. Returns (requeued, ended).
    """
    now = utcnow()
    expired = list(session.scalars(
        select(Job).where(Job.status == JobStatus.running, Job.lease_expires_at < now)
        .with_for_update(skip_locked=True)))
    requeued, ended = [], []
    for job in expired:
        over_time = job.deadline_at is not None and job.deadline_at <= now
        code = "time_limit_exceeded" if over_time else "lease_expired"
        record(session, job.id, job.attempts, "lease_expired", code if over_time else job.worker)
        job.lease_expires_at, job.deadline_at, job.worker = None, None, None
        if job.attempts >= job.max_attempts or job.cancel_requested:
            job.status, job.finished_at = (JobStatus.cancelled if job.cancel_requested else JobStatus.failed), now
            job.error = ({"code": "cancelled", "message": "cancelled while running", "details": {}}
                         if job.cancel_requested else _error(code, {"attempts": job.attempts}))
            record(session, job.id, job.attempts, job.status.value, job.error["code"], status=job.status.value)
            if job.parent_id is not None:
                child_ended(session, job.parent_id)
            ended.append(job)
        else:
            job.status, job.available_at, job.dispatched_at = JobStatus.queued, now, now
            job.error = _error(code, {"attempt": job.attempts})
            after_commit.publish(session, job.id, job.kind)
            requeued.append(job)
    return requeued, ended


def _error(code: str, details: dict) -> dict:
    message = ("the job ran past its time limit" if code == "time_limit_exceeded"
               else "the worker running the job stopped answering")
    return {"code": code, "message": message, "details": details}


def delete_finished_before(session: Session, cutoff: datetime) -> int:
    return session.execute(
        delete(Job).where(Job.status.in_(FINISHED), Job.finished_at < cutoff)
    ).rowcount
