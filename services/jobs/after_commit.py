"""What a transaction will tell the world once it has committed: live job events and job messages.

Services record them on the session (they never import Celery or Redis); the runtime's
after-commit hook sends them, events first, and a rollback forgets them. So a job's message never
leaves before the job's row exists, and nobody hears of a transition that was rolled back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

_KEY = "conveyor.after_commit"


@dataclass(frozen=True)
class Publish:
    job_id: uuid.UUID
    kind: str
    countdown: float | None = None


@dataclass(frozen=True)
class LiveEvent:
    job_id: uuid.UUID
    event: str
    data: dict


@dataclass
class Pending:
    events: list[LiveEvent] = field(default_factory=list)
    publishes: list[Publish] = field(default_factory=list)


def _pending(session: Session) -> Pending:
    return session.info.setdefault(_KEY, Pending())


def announce(session: Session, job_id: uuid.UUID, event: str, data: dict | None = None) -> None:
    """Push `event` to the job's live stream once this transaction commits."""
    _pending(session).events.append(LiveEvent(job_id, event, data or {}))


def publish(session: Session, job_id: uuid.UUID, kind: str, countdown: float | None = None) -> None:
    """Send the job's message to its queue once this transaction commits."""
    _pending(session).publishes.append(Publish(job_id, kind, countdown))


def take(session: Session) -> Pending | None:
    """What the transaction that just ended promised (for the hook: after a commit, or to drop it)."""
    return session.info.pop(_KEY, None)
