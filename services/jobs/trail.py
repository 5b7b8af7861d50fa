"""A job's transitions: appended to `job_events` and pushed to its live stream after commit."""

from __future__ import annotations

import uuid

from sqlalchemy import insert
from sqlalchemy.orm import Session

from models import JobEvent
from models.base import utcnow
from services.jobs.after_commit import announce

_INSERT = insert(JobEvent.__table__)


def record(session: Session, job_id: uuid.UUID, attempt: int, event: str, detail: str | None = None, *,
           live: bool = True, **data) -> None:
    """`event` happened to the job in `attempt`; `data` goes to live listeners only (`live`: if any)."""
    # A plain INSERT: no identity to track, so no unit-of-work flush on the hot path.
    detail = detail and detail[:500]
    session.connection().execute(_INSERT, {"job_id": job_id, "attempt": attempt, "event": event, "at": utcnow(),
                                           "detail": detail})
    if live:
        announce(session, job_id, event, {"attempt": attempt, "detail": detail, **data})
