"""Creating a job from any code that holds a session: a view, a beat task, a job, a CLI command.

The job is recorded in the caller's transaction and published once that transaction commits (the
after-commit hook), routed to its queue by worker/routes.py.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from models import Job
from services import jobs as job_service
from worker.routes import queue_of
from worker.runtime import get_settings


def enqueue(session: Session, kind: str, payload: dict, *, owner_id: int | None = None,
            idempotency_key: str | None = None, parent_id: uuid.UUID | None = None,
            job_id: uuid.UUID | None = None) -> tuple[Job, bool]:
    """(job, created). `owner_id` None: a system job, which only admins see or cancel."""
    return job_service.submit(session, kind=kind, owner_id=owner_id, queue=queue_of(kind), payload=payload,
                              max_attempts=get_settings().job_max_attempts, idempotency_key=idempotency_key,
                              parent_id=parent_id, job_id=job_id)
