"""The one way every family's endpoint submits a job: record it, commit, publish; answer 202 (or wait)."""

from __future__ import annotations

import re
import time
import uuid
from contextlib import ExitStack
from typing import Callable

from flask import request, url_for
from sqlalchemy.orm import Session

from models import Job
from services.errors import InvalidInput
from services.metrics import record_submitted
from web.auth import current_principal
from worker.runtime import get_runtime
from worker.submission import enqueue
from worker.subscriptions import RESYNC, Watch

IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*(\d+)", re.IGNORECASE)
CALLER = object()
# Without live events (Redis away) a waiter looks at the database this often; with them, it looks
# now and then anyway, in case an event was lost between a commit and its publication.
POLL_WITHOUT_EVENTS = 0.5
LOOK_ANYWAY = 5.0


def submit_job(kind: str, payload: dict, domain_writes: Callable[[Session, Job], None] | None = None, *,
               owner_id: int | None | object = CALLER, idempotency_key: str | None = None):
    """Insert the job (and the caller's domain rows) in one transaction, publish after commit.

    The job belongs to the caller (`owner_id=None`: to the system), and its Idempotency-Key is the
    request's, unless given here. Returns what a flask-smorest view returns: (job, status, headers).
    """
    runtime = get_runtime()
    owner = current_principal().user_id if owner_id is CALLER else owner_id
    key = idempotency_key or idempotency_key_of_request()
    wait = _prefer_wait(runtime.settings.max_wait_seconds)
    job_id = uuid.uuid4()
    with ExitStack() as stack:
        # Watch before the job exists: no event it sends can be missed.
        watch = stack.enter_context(runtime.subscriptions.watch(job_id)) if wait else None
        with runtime.db.Session.begin() as session:
            job, created = enqueue(session, kind, payload, owner_id=owner, idempotency_key=key, job_id=job_id)
            if created and domain_writes is not None:
                domain_writes(session, job)
        if created:
            record_submitted(kind)
        headers = {"Location": url_for("jobs.JobById", job_id=job.id)}
        if wait:
            headers["Preference-Applied"] = f"wait={wait}"
            if not created:  # an earlier request's job: watch that one, and look at it first
                watch = stack.enter_context(runtime.subscriptions.watch(job.id))
            job = wait_for(job.id, wait, watch, look_first=not created)
    return job, (202 if created and not job.status.finished else 200), headers


def wait_for(job_id: uuid.UUID, seconds: float, watch: Watch, *, look_first: bool) -> Job:
    """Until the job finishes or time runs out, woken by its live events; the job as it is then."""
    db = get_runtime().db
    deadline = time.monotonic() + seconds
    look = look_first
    while True:
        if look:
            with db.read() as session:
                job = session.get(Job, job_id)
            if job.status.finished:
                return job
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        item = watch.next(min(remaining, POLL_WITHOUT_EVENTS if watch.degraded else LOOK_ANYWAY))
        look = item is None or item is RESYNC or item.final
    with db.read() as session:
        return session.get(Job, job_id)


def idempotency_key_of_request() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        raise InvalidInput("Idempotency-Key must be 1 to 255 visible ASCII characters",
                           code="invalid_idempotency_key")
    return key


def _prefer_wait(limit: int) -> int:
    match = PREFER_WAIT.search(request.headers.get("Prefer", ""))
    if not match:
        return 0
    digits = match.group(1).lstrip("0")
    return limit if len(digits) > 6 else min(int(digits or 0), limit)
