"""Creating jobs: from a request, a beat task, a job, a CLI command; published once the caller commits."""

from __future__ import annotations

import hashlib
import json
import uuid

from psycopg.types.json import Jsonb
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached

from models import Job, JobStatus
from models.base import utcnow
from services.errors import Conflict
from services.jobs import after_commit
from services.jobs.trail import record


_PG_SUBMIT = """
WITH job AS (
    INSERT INTO jobs (id, kind, owner_id, parent_id, queue, status, progress_done, payload, attempts, max_attempts,
                      cancel_requested, request_fingerprint, available_at, dispatched_at, created_at)
    VALUES (%(id)s, %(kind)s, %(owner_id)s, %(parent_id)s, %(queue)s, 'queued', 0, %(payload)s, 0,
            %(max_attempts)s, false, %(fingerprint)s, %(now)s, %(now)s, %(now)s)
    RETURNING id)
INSERT INTO job_events (job_id, attempt, event, at) SELECT id, 0, 'queued', %(now)s FROM job"""


def fingerprint(kind: str, payload: dict) -> str:
    canonical = json.dumps([kind, payload], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def submit(session: Session, *, kind: str, owner_id: int | None, queue: str, payload: dict, max_attempts: int,
           idempotency_key: str | None = None, parent_id: uuid.UUID | None = None,
           job_id: uuid.UUID | None = None) -> tuple[Job, bool]:
    """Insert a queued job, or return the one an earlier submission made with the same key.

    Returns (job, created). The same key with another payload is a conflict. `owner_id` None makes
    a system job; keys are unique per owner, and system jobs share one key space. The job's message
    is sent once the caller's transaction commits.
    """
    digest = fingerprint(kind, payload)
    if idempotency_key is not None:
        existing = _by_key(session, owner_id, idempotency_key)
        if existing is not None:
            return _same_request(existing, digest), False
    now = utcnow()
    # Every column given, so that the object is whole without reading the row back.
    job = Job(id=job_id or uuid.uuid4(), kind=kind, owner_id=owner_id, parent_id=parent_id, queue=queue,
              payload=payload, max_attempts=max_attempts, idempotency_key=idempotency_key,
              request_fingerprint=digest, status=JobStatus.queued, created_at=now, available_at=now,
              dispatched_at=now, progress_done=0, progress_total=None, progress_message=None, attempts=0,
              cancel_requested=False, result=None, error=None, checkpoint=None, lease_expires_at=None,
              deadline_at=None, worker=None, started_at=None, finished_at=None)
    if idempotency_key is None and session.get_bind().dialect.name == "postgresql":
        # The API's commonest write: the job and its trail's first row in one statement.
        session.connection().exec_driver_sql(_PG_SUBMIT, {
            "id": job.id, "kind": kind, "owner_id": owner_id, "parent_id": parent_id, "queue": queue,
            "payload": Jsonb(payload), "max_attempts": max_attempts, "fingerprint": digest, "now": now})
        make_transient_to_detached(job)
        session.add(job)
    elif idempotency_key is None:
        session.add(job)
        session.flush()
    else:
        try:
            # A savepoint, so a concurrent twin's insert costs only this statement, not the transaction.
            with session.begin_nested():
                session.add(job)
        except IntegrityError:
            return _same_request(_by_key(session, owner_id, idempotency_key), digest), False
    if parent_id is not None:
        # The parent's progress counts its children: one more to wait for.
        session.execute(update(Job).where(Job.id == parent_id)
                        .values(progress_total=func.coalesce(Job.progress_total, 0) + 1).execution_options(synchronize_session=False))
    if idempotency_key is not None or session.get_bind().dialect.name != "postgresql":
        # Not pushed live: nobody can be watching a job that does not exist yet, and a stream opened
        # later starts with a snapshot. So a submission costs no round trip to Redis.
        record(session, job.id, 0, "queued", live=False)
    after_commit.publish(session, job.id, kind)
    return job, True


def _by_key(session: Session, owner_id: int | None, key: str) -> Job | None:
    owner = Job.owner_id.is_(None) if owner_id is None else Job.owner_id == owner_id
    return session.scalar(select(Job).where(owner, Job.idempotency_key == key))


def _same_request(job: Job, digest: str) -> Job:
    if job.request_fingerprint != digest:
        raise Conflict("this Idempotency-Key was used with a different request",
                       code="idempotency_key_reused", details={"job_id": str(job.id)})
    return job


def mark_undispatched(session: Session, job_ids: list[uuid.UUID]) -> None:
    """Publishing failed: let the outbox dispatcher take these jobs at its next pass."""
    session.execute(update(Job).where(Job.id.in_(job_ids), Job.status == JobStatus.queued)
                    .values(dispatched_at=None).execution_options(synchronize_session=False))
