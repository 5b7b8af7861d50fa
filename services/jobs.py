"""The job lifecycle: submit, read, cancel, claim, progress, finish, retry, and beat's repairs.

Every transition is one conditional UPDATE, so two workers, a redelivered message, the lease
reaper and a second beat can race on a job and exactly one of them wins. A running job is fenced
by its attempt number: a worker whose lease was taken over can no longer write the job.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import FINISHED, Job, JobEvent, JobStatus, Role
from models.base import utcnow
from services.auth import Principal
from services.errors import Conflict, NotFound
from services.pagination import page


class LeaseLost(Exception):
    """This worker's claim on the job is gone (reaped, or taken over): its writes must not land."""


@dataclass(frozen=True)
class Claim:
    job_id: uuid.UUID
    attempt: int
    max_attempts: int
    kind: str
    owner_id: int
    payload: dict


def fingerprint(kind: str, payload: dict) -> str:
    canonical = json.dumps([kind, payload], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


_INSERT_EVENT = insert(JobEvent.__table__)


def _event(session: Session, job_id: uuid.UUID, attempt: int, event: str, detail: str | None = None) -> None:
    # A plain INSERT: no identity to track, so no unit-of-work flush on the hot path.
    session.connection().execute(_INSERT_EVENT, {"job_id": job_id, "attempt": attempt, "event": event,
                                                 "at": utcnow(), "detail": detail and detail[:500]})


def submit(session: Session, *, kind: str, owner_id: int, queue: str, payload: dict, max_attempts: int,
           idempotency_key: str | None = None) -> tuple[Job, bool]:
    """Insert a queued job, or return the one an earlier request made with the same key.

    Returns (job, created). The same key with another payload is a conflict.
    """
    digest = fingerprint(kind, payload)
    if idempotency_key is not None:
        existing = _by_key(session, owner_id, idempotency_key)
        if existing is not None:
            return _same_request(existing, digest), False
    now = utcnow()
    job = Job(kind=kind, owner_id=owner_id, queue=queue, payload=payload, max_attempts=max_attempts,
              idempotency_key=idempotency_key, request_fingerprint=digest, status=JobStatus.queued,
              created_at=now, available_at=now, dispatched_at=now)
    if idempotency_key is None:
        session.add(job)
        session.flush()
    else:
        try:
            # A savepoint, so a concurrent twin's insert costs only this statement, not the transaction.
            with session.begin_nested():
                session.add(job)
        except IntegrityError:
            return _same_request(_by_key(session, owner_id, idempotency_key), digest), False
    _event(session, job.id, 0, "queued")
    return job, True


def _by_key(session: Session, owner_id: int, key: str) -> Job | None:
    return session.scalar(select(Job).where(Job.owner_id == owner_id, Job.idempotency_key == key))


def _same_request(job: Job, digest: str) -> Job:
    if job.request_fingerprint != digest:
        raise Conflict("this Idempotency-Key was used with a different request",
                       code="idempotency_key_reused", details={"job_id": str(job.id)})
    return job


def _visible(stmt, viewer: Principal):
    return stmt if viewer.role == Role.admin else stmt.where(Job.owner_id == viewer.user_id)


def get(session: Session, job_id: uuid.UUID, viewer: Principal) -> Job:
    """A job the viewer may see; another user's job does not exist for them."""
    job = session.scalar(_visible(select(Job).where(Job.id == job_id), viewer))
    if job is None:
        raise NotFound("no such job", code="job_not_found")
    return job


def status_of(session: Session, job_id: uuid.UUID) -> JobStatus | None:
    return session.scalar(select(Job.status).where(Job.id == job_id))


def list_for(session: Session, viewer: Principal, *, kind: str | None, status: JobStatus | None,
             limit: int, cursor: str | None) -> tuple[list[Job], str | None]:
    stmt = _visible(select(Job), viewer)
    if kind:
        stmt = stmt.where(Job.kind == kind)
    if status:
        stmt = stmt.where(Job.status == status)
    return page(session, stmt, Job, limit, cursor)


def events_of(session: Session, job_id: uuid.UUID) -> list[JobEvent]:
    return list(session.scalars(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id)))


def cancel(session: Session, job_id: uuid.UUID, viewer: Principal) -> Job:
    """Cancel a queued job now; ask a running one to stop; refuse a finished one."""
    job = get(session, job_id, viewer)
    now = utcnow()
    done = session.execute(
        update(Job).where(Job.id == job_id, Job.status == JobStatus.queued)
        .values(status=JobStatus.cancelled, finished_at=now, cancel_requested=True,
                error={"code": "cancelled", "message": "cancelled before it started", "details": {}})
    ).rowcount
    if done:
        _event(session, job_id, job.attempts, "cancelled")
    else:
        asked = session.execute(
            update(Job).where(Job.id == job_id, Job.status == JobStatus.running).values(cancel_requested=True)
        ).rowcount
        if not asked:
            session.refresh(job)
            raise Conflict(f"the job is already {job.status.value}", code="job_finished",
                           details={"status": job.status.value})
        _event(session, job_id, job.attempts, "cancel_requested")
    session.refresh(job)
    return job


# The worker's hot path runs these for every job: built once, with bind parameters, as Core
# statements (no expression building, no ORM bookkeeping per call).
_jobs = Job.__table__
_running = _jobs.c.status == JobStatus.running
_CLAIM = (
    update(_jobs)
    .where(_jobs.c.id == bindparam("b_id"), _jobs.c.cancel_requested.is_(False),
           or_(_jobs.c.status == JobStatus.queued, and_(_running, _jobs.c.lease_expires_at < bindparam("b_now"))))
    .values(status=JobStatus.running, attempts=_jobs.c.attempts + 1, worker=bindparam("b_worker"),
            lease_expires_at=bindparam("b_lease"), started_at=bindparam("b_now"))
    .returning(_jobs.c.attempts, _jobs.c.max_attempts, _jobs.c.kind, _jobs.c.owner_id, _jobs.c.payload))
_FENCED = update(_jobs).where(_jobs.c.id == bindparam("b_id"), _running, _jobs.c.attempts == bindparam("b_attempt"))
_RENEW = _FENCED.values(lease_expires_at=bindparam("b_lease")).returning(_jobs.c.cancel_requested)
_RENEW_WITH_PROGRESS = _FENCED.values(
    lease_expires_at=bindparam("b_lease"), progress_done=bindparam("b_done"), progress_total=bindparam("b_total"),
    progress_message=bindparam("b_message")).returning(_jobs.c.cancel_requested)
_FINISH = _FENCED.values(status=bindparam("b_status"), result=bindparam("b_result"), error=bindparam("b_error"),
                         finished_at=bindparam("b_now"), lease_expires_at=None)


def claim(session: Session, job_id: uuid.UUID, *, lease_seconds: int, worker: str) -> Claim | None:
    """Take a queued job (or a running one whose lease ran out) for one attempt; None if not ours."""
    now = utcnow()
    row = session.connection().execute(_CLAIM, {"b_id": job_id, "b_now": now, "b_worker": worker,
                                                "b_lease": now + timedelta(seconds=lease_seconds)}).one_or_none()
    if row is None:
        return None
    _event(session, job_id, row.attempts, "running", worker)
    return Claim(job_id, row.attempts, row.max_attempts, row.kind, row.owner_id, row.payload)


def _fence(claim: Claim) -> dict:
    return {"b_id": claim.job_id, "b_attempt": claim.attempt}


def heartbeat(session: Session, claim: Claim, lease_seconds: int, progress: dict | None = None) -> bool:
    """Renew the lease (and record progress); returns whether a cancel was asked for."""
    params = {**_fence(claim), "b_lease": utcnow() + timedelta(seconds=lease_seconds)}
    if progress:
        params.update({f"b_{k}": v for k, v in progress.items()})
    row = session.connection().execute(_RENEW_WITH_PROGRESS if progress else _RENEW, params).one_or_none()
    if row is None:
        raise LeaseLost(str(claim.job_id))
    return row.cancel_requested


def finish(session: Session, claim: Claim, status: JobStatus, *, result: dict | None = None,
           error: dict | None = None) -> None:
    """Write the final status; in the same transaction as the job's domain writes."""
    assert status in FINISHED
    done = session.connection().execute(_FINISH, {**_fence(claim), "b_status": status, "b_result": result,
                                                  "b_error": error, "b_now": utcnow()}).rowcount
    if not done:
        raise LeaseLost(str(claim.job_id))
    _event(session, claim.job_id, claim.attempt, status.value, error and error.get("code"))


def schedule_retry(session: Session, claim: Claim, delay_seconds: float, error: dict) -> None:
    """Put the job back in the queue, not to run again before the backoff has passed."""
    now = utcnow()
    retry = _FENCED.values(status=JobStatus.queued, error=error, lease_expires_at=None, worker=None,
                           available_at=now + timedelta(seconds=delay_seconds), dispatched_at=now)
    if not session.connection().execute(retry, _fence(claim)).rowcount:
        raise LeaseLost(str(claim.job_id))
    _event(session, claim.job_id, claim.attempt, "retry", error.get("code"))


def mark_undispatched(session: Session, job_id: uuid.UUID) -> None:
    """Publishing failed: let the outbox dispatcher take the job at its next pass."""
    session.execute(update(Job).where(Job.id == job_id, Job.status == JobStatus.queued).values(dispatched_at=None))


def take_undelivered(session: Session, *, redispatch_after: timedelta, limits: dict[str, int]) -> list[Job]:
    """Queued jobs nobody claimed for a while, per queue at most `limits[queue]`, stamped as dispatched.

    Rows locked by a concurrent beat are skipped (PostgreSQL), so two beats never send the same job
    in the same pass.
    """
    now = utcnow()
    taken: list[Job] = []
    for queue, limit in limits.items():
        if limit <= 0:
            continue
        stmt = (select(Job)
                .where(Job.queue == queue, Job.status == JobStatus.queued, Job.available_at <= now,
                       or_(Job.dispatched_at.is_(None), Job.dispatched_at < now - redispatch_after))
                .order_by(Job.available_at).limit(limit).with_for_update(skip_locked=True))
        taken.extend(session.scalars(stmt))
    for job in taken:
        job.dispatched_at = now
    return taken


def count_undelivered(session: Session, *, redispatch_after: timedelta) -> dict[str, int]:
    """How many jobs per queue look lost: queued, due, and not dispatched recently."""
    now = utcnow()
    rows = session.execute(
        select(Job.queue, func.count()).where(
            Job.status == JobStatus.queued, Job.available_at <= now,
            or_(Job.dispatched_at.is_(None), Job.dispatched_at < now - redispatch_after))
        .group_by(Job.queue))
    return {queue: n for queue, n in rows}


def reap_expired_leases(session: Session) -> tuple[list[Job], list[Job]]:
    """Running jobs whose worker stopped renewing: re-queue them, or fail those out of attempts.

    Returns (requeued, failed).
    """
    now = utcnow()
    expired = list(session.scalars(
        select(Job).where(Job.status == JobStatus.running, Job.lease_expires_at < now)
        .with_for_update(skip_locked=True)))
    requeued, failed = [], []
    for job in expired:
        _event(session, job.id, job.attempts, "lease_expired", job.worker)
        job.lease_expires_at, job.worker = None, None
        if job.attempts >= job.max_attempts or job.cancel_requested:
            job.status, job.finished_at = (JobStatus.cancelled if job.cancel_requested else JobStatus.failed), now
            job.error = {"code": "cancelled" if job.cancel_requested else "lease_expired",
                         "message": "the worker running the job stopped answering", "details": {}}
            _event(session, job.id, job.attempts, job.status.value, job.error["code"])
            failed.append(job)
        else:
            job.status, job.available_at, job.dispatched_at = JobStatus.queued, now, now
            requeued.append(job)
    return requeued, failed


def delete_finished_before(session: Session, cutoff: datetime) -> int:
    return session.execute(
        delete(Job).where(Job.status.in_(FINISHED), Job.finished_at < cutoff)
    ).rowcount
