"""The task base every job kind runs on: claim, run, and finish exactly once.

A job task receives only the job's id. It claims the job with one conditional UPDATE (committed at
once, so watchers see `running`), runs the kind's function, and commits that function's last writes
with the final status in one transaction fenced by the attempt number; a job that commits in steps
fences each step the same way. A redelivered message finds the job claimed or finished and does
nothing; a worker whose lease was taken over cannot commit.
"""

from __future__ import annotations

import logging
import random
import uuid
from typing import Callable

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from config.logging import job_context
from models import JobStatus
from services import jobs as job_service
from services.errors import DomainError, TransientError
from services.metrics import record_finished
from tasks.context import JobCancelled, JobContext, TimeLimitExceeded, WaitForChildren
from tasks.heartbeat import HEARTBEATS
from worker.celery_app import AppContextTask
from worker.routes import task_name
from worker.runtime import get_runtime

log = logging.getLogger(__name__)

# Failures that may pass: a database or broker away for a moment, a provider's 429/5xx.
TRANSIENT = (TransientError, OperationalError, InterfaceError, PoolTimeout, BrokerError, ConnectionError,
             TimeoutError)
# A message whose job could not even be claimed (the database is away) comes back this often.
CLAIM_RETRIES = 10


class JobTask(AppContextTask):
    """Celery task base for job kinds; see the module docstring for the guarantees."""

    abstract = True
    job_function: Callable[[JobContext, dict], dict | None]

    def run_job(self, job_id: str) -> None:
        runtime = get_runtime()
        settings = runtime.settings
        soft_limit = self.soft_time_limit or settings.job_soft_time_limit_seconds
        hard_limit = self.time_limit or settings.job_time_limit_seconds
        with job_context(job_id):
            try:
                with runtime.db.autocommit(durable=False) as session:
                    claim = job_service.claim(session, uuid.UUID(job_id), lease_seconds=settings.job_lease_seconds,
                                              time_limit=hard_limit, worker=self.request.hostname or "worker")
            except TRANSIENT as exc:
                log.warning("could not claim the job; its message comes back later", exc_info=True)
                raise self.retry(exc=exc, countdown=min(30, 2 ** self.request.retries), max_retries=CLAIM_RETRIES)
            if claim is None:
                log.info("job already claimed or finished; message dropped")
                return
            HEARTBEATS.claimed.saw(claim.queue, claim.dispatched_at)
            ctx = JobContext(claim, runtime, lease_seconds=settings.job_lease_seconds, soft_time_limit=soft_limit,
                             time_limit=hard_limit)
            if claim.attempt > claim.max_attempts:
                self._finish_alone(ctx, JobStatus.failed, _error(
                    "max_attempts_exceeded", "the job ran out of attempts", {"attempts": claim.max_attempts}))
                return
            status = self._run(ctx)
            if status is not None:
                record_finished(claim.kind, status.value, ctx.elapsed)

    def _run(self, ctx: JobContext) -> JobStatus | None:
        with HEARTBEATS.tracking(ctx):
            try:
                result = self.job_function(ctx, ctx.payload)
                ctx.finish(JobStatus.succeeded, result=result or {})
                return JobStatus.succeeded
            except job_service.LeaseLost:
                log.warning("lease lost; this attempt's uncommitted work is rolled back")
            except WaitForChildren:
                ctx.close()
                self._in_transaction(ctx, job_service.wait_for_children)
            except JobCancelled:
                ctx.close()
                return self._finish_alone(ctx, JobStatus.cancelled, _error("cancelled", "cancelled while running"))
            except (TimeLimitExceeded, SoftTimeLimitExceeded):
                ctx.close()
                return self._retry_or_fail(ctx, _error("time_limit_exceeded", "the job ran past its time limit",
                                                       {"soft_time_limit": ctx.soft_time_limit}))
            except DomainError as exc:
                ctx.close()
                return self._finish_alone(ctx, JobStatus.failed, exc.as_dict())
            except TRANSIENT as exc:
                ctx.close()
                log.warning("transient failure", exc_info=True)
                return self._retry_or_fail(ctx, _transient_error(exc))
            except Exception as exc:
                log.exception("job failed unexpectedly")
                ctx.close()
                return self._finish_alone(ctx, JobStatus.failed, _error(
                    "internal_error", "the job failed unexpectedly", {"type": type(exc).__name__}))
            finally:
                ctx.close()
        return None

    def _in_transaction(self, ctx: JobContext, write: Callable) -> bool:
        """Run `write(session, claim)` in a short transaction of its own; False if it could not land."""
        try:
            with ctx.db.Session.begin() as session:
                write(session, ctx.claim)
            return True
        except job_service.LeaseLost:
            log.warning("lease lost before the job's state could be written")
        except TRANSIENT:
            log.warning("could not write the job's state; the lease reaper will take it", exc_info=True)
        return False

    def _finish_alone(self, ctx: JobContext, status: JobStatus, error: dict) -> JobStatus | None:
        try:
            ctx.finish(status, error=error)
            return status
        except job_service.LeaseLost:
            log.warning("lease lost before the job could be marked %s", status.value)
        except TRANSIENT:
            log.warning("could not record the job's end; the lease reaper will take it", exc_info=True)
        return None

    def _retry_or_fail(self, ctx: JobContext, error: dict) -> JobStatus | None:
        claim = ctx.claim
        error["details"]["attempt"] = claim.attempt
        if claim.attempt >= claim.max_attempts:
            return self._finish_alone(ctx, JobStatus.failed, error)
        delay = backoff(claim.attempt, ctx.runtime.settings)
        if self._in_transaction(ctx, lambda session, c: job_service.schedule_retry(session, c, delay, error)):
            log.info("retrying in %.1fs", delay, extra={"error": error})
        return None


def backoff(attempt: int, settings) -> float:
    """Exponential backoff with "equal jitter": half the step for sure, half at random."""
    step = min(settings.job_retry_backoff_max_seconds, settings.job_retry_backoff_seconds * 2 ** (attempt - 1))
    return step / 2 + random.uniform(0, step / 2)


def _error(code: str, message: str, details: dict | None = None) -> dict:
    return {"code": code, "message": message, "details": details or {}}


def _transient_error(exc: Exception) -> dict:
    """A job's owner reads its error: our own TransientError's message is meant for them; a driver's
    text (SQL, hosts) is not, and stays in the log."""
    if isinstance(exc, TransientError):
        return _error(exc.code, exc.message)
    return _error("transient_error", "a service the job needs was unavailable", {"type": type(exc).__name__})


def job_task(kind: str, *, soft_time_limit: float | None = None, time_limit: float | None = None):
    """Register `fn(job, payload) -> result` as the job kind `kind` (its queue: worker/routes.py).

    The time limits default to JOB_SOFT_TIME_LIMIT_SECONDS and JOB_TIME_LIMIT_SECONDS.
    """

    def decorate(fn: Callable[[JobContext, dict], dict | None]):
        def run(self, job_id: str) -> None:
            self.run_job(job_id)

        run.__name__, run.__doc__ = fn.__name__, fn.__doc__
        base = type(f"{fn.__name__.title()}JobTask", (JobTask,), {"job_function": staticmethod(fn)})
        return shared_task(name=task_name(kind), base=base, bind=True, soft_time_limit=soft_time_limit,
                           time_limit=time_limit)(run)

    return decorate
