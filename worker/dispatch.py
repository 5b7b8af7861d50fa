"""Handing jobs to the broker: only ever after the transaction that wrote them has committed."""

from __future__ import annotations

import logging
import uuid

from celery import Celery
from kombu.exceptions import OperationalError as BrokerError

from worker.routes import task_name

log = logging.getLogger(__name__)


def publish(celery: Celery, job_id: uuid.UUID, kind: str, countdown: float | None = None) -> bool:
    """Send the job's message (routed by `task_routes`); False when the broker could not take it."""
    try:
        celery.send_task(task_name(kind), args=[str(job_id)], task_id=str(job_id), countdown=countdown)
    except (BrokerError, OSError) as exc:
        log.warning("broker unavailable, job left for the outbox", extra={"job_id": str(job_id), "error": str(exc)})
        return False
    return True
