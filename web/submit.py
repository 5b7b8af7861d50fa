"""The one way every family's endpoint submits a job: record it, commit, then publish; answer 202."""

from __future__ import annotations

import re
import time
import uuid
from typing import Callable

from flask import request, url_for
from sqlalchemy.orm import Session

from models import Job
from services import jobs as job_service
from services.errors import InvalidInput
from services.metrics import record_submitted
from tasks.dispatch import publish
from tasks.registry import JOB_KINDS
from web.auth import current_principal
from web.runtime import get_db, get_settings

IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*(\d+)", re.IGNORECASE)


def submit_job(kind: str, payload: dict, domain_writes: Callable[[Session, Job], None] | None = None, *,
               owner_id: int | None = None, idempotency_key: str | None = None):
    """Insert the job (and the caller's domain rows) in one transaction, publish after commit.

    The job belongs to the caller, and its Idempotency-Key is the request's, unless given here.
    Returns what a flask-smorest view returns: (job, status, headers).
    """
    settings, db = get_settings(), get_db()
    owner_id = owner_id if owner_id is not None else current_principal().user_id
    key = idempotency_key or _idempotency_key()
    wait = _prefer_wait(settings.max_wait_seconds)
    with db.Session.begin() as session:
        job, created = job_service.submit(
            session, kind=kind, owner_id=owner_id, queue=JOB_KINDS[kind].queue, payload=payload,
            max_attempts=settings.job_max_attempts, idempotency_key=key)
        if created and domain_writes is not None:
            domain_writes(session, job)
    if created:
        record_submitted(kind)
        if not publish(job.id, kind):
            with db.Session.begin() as session:
                job_service.mark_undispatched(session, job.id)
    headers = {"Location": url_for("jobs.JobById", job_id=job.id)}
    if wait:
        headers["Preference-Applied"] = f"wait={wait}"
        job = wait_for(job.id, wait)
    return job, (202 if created and not job.status.finished else 200), headers


def wait_for(job_id: uuid.UUID, seconds: float) -> Job:
    """Poll until the job finishes or time runs out; the job as it is then."""
    db = get_db()
    deadline, pause = time.monotonic() + seconds, 0.002
    while True:
        with db.Session.begin() as session:
            status = job_service.status_of(session, job_id)
            if status.finished or time.monotonic() + pause > deadline:
                return session.get(Job, job_id)
        time.sleep(pause)
        # Most jobs end within milliseconds: look often at first, then back off gently.
        pause = min(pause * 1.25, 0.1)


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        raise InvalidInput("Idempotency-Key must be 1 to 255 visible ASCII characters",
                           code="invalid_idempotency_key")
    return key


def _prefer_wait(limit: int) -> int:
    match = PREFER_WAIT.search(request.headers.get("Prefer", ""))
    return min(int(match.group(1)), limit) if match else 0
