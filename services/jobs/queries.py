"""Reading jobs, and cancelling them: what the API does for a viewer."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import FINISHED, Job, JobEvent, JobStatus
from models.base import utcnow
from services.auth import Principal
from services.errors import Conflict, NotFound
from services.jobs.lifecycle import child_ended
from services.jobs.trail import record
from services.pagination import page

_CANCELLED_ERROR = {"code": "cancelled", "message": "cancelled before it started", "details": {}}


def _visible(stmt, viewer: Principal):
    """Users see their own jobs; system jobs (no owner) and everyone's are for admins."""
    return viewer.sees(stmt, Job.owner_id)


def get(session: Session, job_id: uuid.UUID, viewer: Principal) -> Job:
    """A job the viewer may see; another user's job does not exist for them."""
    job = session.scalar(_visible(select(Job).where(Job.id == job_id), viewer))
    if job is None:
        raise NotFound("no such job", code="job_not_found")
    return job


def list_for(session: Session, viewer: Principal, *, kind: str | None, status: JobStatus | None,
             parent_id: uuid.UUID | None = None, limit: int, cursor: str | None) -> tuple[list[Job], str | None]:
    stmt = _visible(select(Job), viewer)
    if kind:
        stmt = stmt.where(Job.kind == kind)
    if status:
        stmt = stmt.where(Job.status == status)
    if parent_id:
        stmt = stmt.where(Job.parent_id == parent_id)
    return page(session, stmt, Job, limit, cursor)


def events_of(session: Session, job_id: uuid.UUID) -> list[JobEvent]:
    return list(session.scalars(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id)))


def children_of(session: Session, job_id: uuid.UUID) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.parent_id == job_id).order_by(Job.created_at, Job.id)))


def cancel(session: Session, job_id: uuid.UUID, viewer: Principal) -> Job:
    """Cancel a queued or waiting job now, and its children; ask a running one to stop; refuse a finished one.

    Answers at once in every state: nothing here waits on a running job (its transactions are short).
    """
    job = get(session, job_id, viewer)
    if not _cancel_tree(session, job_id):
        session.refresh(job)
        raise Conflict(f"the job is already {job.status.value}", code="job_finished",
                       details={"status": job.status.value})
    session.refresh(job)
    return job


def _cancel_tree(session: Session, job_id: uuid.UUID) -> bool:
    """Cancel the job and, breadth first, its live descendants; False if the job itself had finished."""
    todo = [job_id]
    while todo:
        current = todo.pop(0)
        attempts, parent_id = session.execute(select(Job.attempts, Job.parent_id).where(Job.id == current)).one()
        if _cancel_now(session, current):
            record(session, current, attempts, "cancelled", status=JobStatus.cancelled.value)
            if parent_id is not None:
                child_ended(session, parent_id)
        elif session.execute(update(Job).where(Job.id == current, Job.status == JobStatus.running)
                             .values(cancel_requested=True)).rowcount:
            record(session, current, attempts, "cancel_requested", status=JobStatus.running.value)
        elif current == job_id:
            return False
        todo += session.scalars(select(Job.id).where(Job.parent_id == current, Job.status.not_in(FINISHED)))
    return True


def _cancel_now(session: Session, job_id: uuid.UUID) -> bool:
    """A job no worker holds (queued, or waiting for children) ends cancelled at once."""
    return bool(session.execute(
        update(Job).where(Job.id == job_id, Job.status.in_((JobStatus.queued, JobStatus.waiting)))
        .values(status=JobStatus.cancelled, finished_at=utcnow(), cancel_requested=True, error=_CANCELLED_ERROR)
    ).rowcount)
