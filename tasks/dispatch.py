"""Handing jobs to the broker. Only ever after the transaction that wrote the job has committed."""

from __future__ import annotations

import logging
import uuid

from kombu.exceptions import OperationalError as BrokerError

from tasks.registry import JOB_KINDS
from web.runtime import get_celery

log = logging.getLogger(__name__)


def publish(job_id: uuid.UUID, kind: str, countdown: float | None = None) -> bool:
    """Send the job's message; False when the broker could not take it (the outbox will resend)."""
    spec = JOB_KINDS[kind]
    try:
        get_celery().send_task(spec.task_name, args=[str(job_id)], queue=spec.queue, task_id=str(job_id),
                             countdown=countdown)
    except (BrokerError, OSError) as exc:
        log.warning("broker unavailable, job left for the outbox", extra={"job_id": str(job_id), "error": str(exc)})
        return False
    return True
