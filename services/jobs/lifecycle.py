"""A worker's side of a job: claim, renew, commit a step, finish, retry, wait for children.

Every transition is one conditional UPDATE, so two workers, a redelivered message, the lease
reaper and a second beat can race on a job and exactly one of them wins. A running job is fenced
by its attempt number: a worker whose lease was taken over can no longer write the job.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg.types.json import Jsonb
from sqlalchemy import and_, bindparam, case, or_, tuple_, update
from sqlalchemy.orm import Session

from models import FINISHED, Job, JobStatus
from models.base import utcnow
from services.jobs import after_commit
from services.jobs.after_commit import announce
from services.jobs.trail import record


class LeaseLost(Exception):
    """This worker's claim on the job is gone (reaped, or taken over): its writes must not land."""


@dataclass(frozen=True)
class Claim:
    job_id: uuid.UUID
    attempt: int
    max_attempts: int
    kind: str
    owner_id: int | None
    parent_id: uuid.UUID | None
    queue: str
    payload: dict
    checkpoint: dict | None
    dispatched_at: datetime | None
    deadline: datetime


# The worker's hot path runs these for every job: built once, with bind parameters, as Core
# statements (no expression building, no ORM bookkeeping per call).
_jobs = Job.__table__
_running = _jobs.c.status == JobStatus.running
# A lease is never renewed past the attempt's hard time limit.
_LEASE = case((_jobs.c.deadline_at < bindparam("b_lease"), _jobs.c.deadline_at), else_=bindparam("b_lease"))
_CLAIM = (
    update(_jobs)
    .where(_jobs.c.id == bindparam("b_id"), _jobs.c.cancel_requested.is_(False),
           or_(_jobs.c.status == JobStatus.queued, and_(_running, _jobs.c.lease_expires_at < bindparam("b_now"))))
    .values(status=JobStatus.running, attempts=_jobs.c.attempts + 1, worker=bindparam("b_worker"),
            lease_expires_at=bindparam("b_lease"), deadline_at=bindparam("b_deadline"),
            started_at=bindparam("b_now"))
    .returning(_jobs.c.id, _jobs.c.attempts, _jobs.c.max_attempts, _jobs.c.kind, _jobs.c.owner_id,
               _jobs.c.parent_id, _jobs.c.queue, _jobs.c.payload, _jobs.c.checkpoint, _jobs.c.dispatched_at))
# Fenced: only this attempt, and only before its hard time limit, may write the job.
_FENCED = update(_jobs).where(_jobs.c.id == bindparam("b_id"), _running, _jobs.c.attempts == bindparam("b_attempt"),
                              _jobs.c.deadline_at > bindparam("b_now"))
_SAVE_PROGRESS = _FENCED.values(
    lease_expires_at=_LEASE, progress_done=bindparam("b_done"), progress_total=bindparam("b_total"),
    progress_message=bindparam("b_message")).returning(_jobs.c.cancel_requested)
_STEP = _FENCED.values(lease_expires_at=_LEASE, checkpoint=bindparam("b_checkpoint")).returning(
    _jobs.c.cancel_requested)
_STEP_WITH_PROGRESS = _FENCED.values(
    lease_expires_at=_LEASE, checkpoint=bindparam("b_checkpoint"), progress_done=bindparam("b_done"),
    progress_total=bindparam("b_total"), progress_message=bindparam("b_message")).returning(_jobs.c.cancel_requested)
_FINISH = _FENCED.values(status=bindparam("b_status"), result=bindparam("b_result"), error=bindparam("b_error"),
                         finished_at=bindparam("b_now"), lease_expires_at=None).returning(_jobs.c.id, _jobs.c.attempts)
_FINISH_WITH_PROGRESS = _FINISH.values(progress_done=bindparam("b_done"), progress_total=bindparam("b_total"),
                                       progress_message=bindparam("b_message"))

# PostgreSQL: the two statements every job runs, written out once and sent as they are, each with
# its trail row in the same statement (one round trip, no compilation per call). They do what
# _CLAIM and _FINISH (above, the other databases' path) do; the suite runs both.
_PG_CLAIM = """
WITH changed AS (
    UPDATE jobs SET status = 'running', attempts = attempts + 1, worker = %(worker)s, lease_expires_at = %(lease)s,
                    deadline_at = %(deadline)s, started_at = %(now)s
    WHERE id = %(id)s AND NOT cancel_requested
      AND (status = 'queued' OR (status = 'running' AND lease_expires_at < %(now)s))
    RETURNING id, attempts, max_attempts, kind, owner_id, parent_id, queue, payload, checkpoint, dispatched_at),
trail AS (INSERT INTO job_events (job_id, attempt, event, detail, at)
          SELECT id, attempts, 'running', %(worker)s, %(now)s FROM changed)
SELECT * FROM changed"""
_PG_FINISH = """
WITH changed AS (
    UPDATE jobs SET status = %(status)s, result = %(result)s, error = %(error)s, finished_at = %(now)s,
                    lease_expires_at = NULL,
                    progress_done = CASE WHEN %(progress)s THEN %(done)s ELSE progress_done END,
                    progress_total = CASE WHEN %(progress)s THEN %(total)s ELSE progress_total END,
                    progress_message = CASE WHEN %(progress)s THEN %(message)s ELSE progress_message END
    WHERE id = %(id)s AND status = 'running' AND attempts = %(attempt)s AND deadline_at > %(now)s
    RETURNING id),
trail AS (INSERT INTO job_events (job_id, attempt, event, detail, at)
          SELECT id, %(attempt)s, %(status)s, %(code)s, %(now)s FROM changed)
SELECT id FROM changed"""


def claim(session: Session, job_id: uuid.UUID, *, lease_seconds: float, time_limit: float,
          worker: str) -> Claim | None:
    """Take a queued job (or a running one whose lease ran out) for one attempt; None if not ours."""
    now = utcnow()
    deadline = now + timedelta(seconds=time_limit)
    lease = min(now + timedelta(seconds=lease_seconds), deadline)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        row = connection.exec_driver_sql(_PG_CLAIM, {"id": job_id, "now": now, "worker": worker, "lease": lease,
                                                     "deadline": deadline}).one_or_none()
        if row is not None:
            announce(session, job_id, "running", {"attempt": row.attempts, "detail": worker,
                                                  "status": JobStatus.running.value})
    else:
        row = connection.execute(_CLAIM, {"b_id": job_id, "b_now": now, "b_worker": worker, "b_deadline": deadline,
                                          "b_lease": lease}).one_or_none()
        if row is not None:
            record(session, job_id, row.attempts, "running", worker, status=JobStatus.running.value)
    if row is None:
        return None
    return Claim(job_id, row.attempts, row.max_attempts, row.kind, row.owner_id, row.parent_id, row.queue,
                 row.payload, row.checkpoint, row.dispatched_at, deadline)


def _fence(claim: Claim) -> dict:
    return {"b_id": claim.job_id, "b_attempt": claim.attempt, "b_now": utcnow()}


def _progress(progress: dict) -> dict:
    return {"b_done": progress["done"], "b_total": progress["total"], "b_message": progress["message"]}


def renew(session: Session, claims: list[Claim], lease_seconds: float) -> dict[uuid.UUID, bool]:
    """Renew the leases of these running attempts in one statement (never past their deadlines).

    Returns {job id: cancel requested} for each lease renewed; a job missing from it lost its lease.
    """
    if not claims:
        return {}
    stmt = (update(_jobs)
            .where(tuple_(_jobs.c.id, _jobs.c.attempts).in_([(c.job_id, c.attempt) for c in claims]), _running)
            .values(lease_expires_at=_LEASE).returning(_jobs.c.id, _jobs.c.cancel_requested))
    lease = utcnow() + timedelta(seconds=lease_seconds)
    return {row.id: row.cancel_requested for row in session.connection().execute(stmt, {"b_lease": lease})}


def save_progress(session: Session, claim: Claim, lease_seconds: float, progress: dict) -> bool:
    """Record progress and renew the lease; returns whether a cancel was asked for."""
    params = {**_fence(claim), **_progress(progress), "b_lease": utcnow() + timedelta(seconds=lease_seconds)}
    row = session.connection().execute(_SAVE_PROGRESS, params).one_or_none()
    if row is None:
        raise LeaseLost(str(claim.job_id))
    return row.cancel_requested


def commit_step(session: Session, claim: Claim, lease_seconds: float, checkpoint: dict | None,
                progress: dict | None) -> bool:
    """Fence a step: its writes land only if the attempt still holds the job; records where to resume.

    In the step's own transaction, last, so the job's row is locked only until the step commits.
    Returns whether a cancel was asked for.
    """
    params = {**_fence(claim), "b_checkpoint": checkpoint, "b_lease": utcnow() + timedelta(seconds=lease_seconds)}
    if progress is not None:
        params.update(_progress(progress))
    row = session.connection().execute(_STEP_WITH_PROGRESS if progress else _STEP, params).one_or_none()
    if row is None:
        raise LeaseLost(str(claim.job_id))
    return row.cancel_requested


def finish(session: Session, claim: Claim, status: JobStatus, *, result: dict | None = None,
           error: dict | None = None, progress: dict | None = None) -> None:
    """Write the final status (and the last progress not yet written); in the same transaction as the
    job's last domain writes."""
    assert status in FINISHED
    code = error and error.get("code")
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        done = connection.exec_driver_sql(_PG_FINISH, {
            "id": claim.job_id, "attempt": claim.attempt, "now": utcnow(), "status": status.value,
            "result": _jsonb(result), "error": _jsonb(error), "code": code, "progress": progress is not None,
            **(progress or {"done": None, "total": None, "message": None})}).one_or_none()
        if done is not None:
            announce(session, claim.job_id, status.value, {"attempt": claim.attempt, "detail": code,
                                                           "status": status.value})
    else:
        params = {**_fence(claim), "b_status": status, "b_result": result, "b_error": error}
        if progress is not None:
            params.update(_progress(progress))
        done = connection.execute(_FINISH_WITH_PROGRESS if progress else _FINISH, params).one_or_none()
        if done is not None:
            record(session, claim.job_id, claim.attempt, status.value, code, status=status.value)
    if done is None:
        raise LeaseLost(str(claim.job_id))
    if claim.parent_id is not None:
        child_ended(session, claim.parent_id)


def _jsonb(value: dict | None):
    return None if value is None else Jsonb(value)


def schedule_retry(session: Session, claim: Claim, delay_seconds: float, error: dict) -> None:
    """Put the job back in the queue, to be published again once the backoff has passed."""
    now = utcnow()
    retry = _FENCED.values(status=JobStatus.queued, error=error, lease_expires_at=None, deadline_at=None,
                           worker=None, available_at=now + timedelta(seconds=delay_seconds), dispatched_at=now)
    if not session.connection().execute(retry, _fence(claim)).rowcount:
        raise LeaseLost(str(claim.job_id))
    record(session, claim.job_id, claim.attempt, "retry", error.get("code"), status=JobStatus.queued.value,
           delay_seconds=round(delay_seconds, 3))
    after_commit.publish(session, claim.job_id, claim.kind, countdown=delay_seconds)


def wait_for_children(session: Session, claim: Claim) -> None:
    """Release the worker: the job waits, without a lease, until its last child ends, then runs again.

    Waiting does not use up an attempt: the next run gets one more.
    """
    row = session.connection().execute(
        _FENCED.values(status=JobStatus.waiting, lease_expires_at=None, deadline_at=None, worker=None,
                       max_attempts=_jobs.c.max_attempts + 1)
        .returning(_jobs.c.progress_done, _jobs.c.progress_total), _fence(claim)).one_or_none()
    if row is None:
        raise LeaseLost(str(claim.job_id))
    record(session, claim.job_id, claim.attempt, "waiting", status=JobStatus.waiting.value)
    if row.progress_done >= (row.progress_total or 0):  # every child ended already
        _resume(session, claim.job_id, claim.kind, claim.attempt)


def child_ended(session: Session, parent_id: uuid.UUID) -> None:
    """Count a child's end on its parent; the last one wakes a waiting parent."""
    row = session.connection().execute(
        update(_jobs).where(_jobs.c.id == parent_id).values(progress_done=_jobs.c.progress_done + 1)
        .returning(_jobs.c.status, _jobs.c.progress_done, _jobs.c.progress_total, _jobs.c.kind,
                   _jobs.c.attempts)).one_or_none()
    if row is not None and row.status == JobStatus.waiting and row.progress_done >= (row.progress_total or 0):
        _resume(session, parent_id, row.kind, row.attempts)


def _resume(session: Session, job_id: uuid.UUID, kind: str, attempt: int) -> None:
    now = utcnow()
    resumed = session.connection().execute(
        update(_jobs).where(_jobs.c.id == job_id, _jobs.c.status == JobStatus.waiting)
        .values(status=JobStatus.queued, available_at=now, dispatched_at=now)).rowcount
    if resumed:
        record(session, job_id, attempt, "resumed", status=JobStatus.queued.value)
        after_commit.publish(session, job_id, kind)
