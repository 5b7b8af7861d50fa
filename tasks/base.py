"""The task base every job kind runs on: claim, run, and finish exactly once.

A job task receives only the job's id. It claims the job with one conditional UPDATE (committed at
once, so pollers see `running`), runs the kind's function, and writes that function's domain work
and the final status in one transaction fenced by the attempt number. A redelivered message finds
the job claimed or finished and does nothing; a worker whose lease was taken over cannot commit.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Callable, Iterator

from celery import Task, shared_task
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy import Connection
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from config.logging import job_context
from models import JobStatus
from models.database import skip_flush_wait
from services import jobs as job_service
from services.errors import DomainError, TransientError
from services.metrics import record_finished
from tasks import dispatch, registry
from tasks.heartbeat import HEARTBEATS
from web.runtime import get_db, get_settings

log = logging.getLogger(__name__)

# Failures that may pass: a database or broker away for a moment, a provider's 429/5xx.
TRANSIENT = (TransientError, OperationalError, InterfaceError, BrokerError, ConnectionError, TimeoutError)


class JobCancelled(Exception):
    pass


class AppContextTask(Task):
    """Runs every task inside the Flask app's context (Flask's "Background Tasks with Celery")."""

    def __call__(self, *args, **kwargs):
        with self.app.flask_app.app_context():
            return self.run(*args, **kwargs)


class JobContext:
    """What a job's function gets: its payload, progress reporting, cancellation, and its session."""

    def __init__(self, claim: job_service.Claim, db, lease_seconds: int, connection: Connection):
        self.claim = claim
        self.payload = claim.payload
        self.db = db
        self.connection = connection  # the job's own: its claim, its work and its end share it
        self.lease_seconds = lease_seconds
        self.cancel_event = threading.Event()
        self.row_locked = False
        self._session: Session | None = None

    @property
    def attempt(self) -> int:
        return self.claim.attempt

    @property
    def job_id(self) -> uuid.UUID:
        return self.claim.job_id

    @property
    def owner_id(self) -> int:
        return self.claim.owner_id

    @property
    def session(self) -> Session:
        """The transaction the job's domain writes share with its final status; opened on first use."""
        if self._session is None:
            self._session = self.db.Session(bind=self.connection)
            self._session.begin()
        return self._session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A short transaction of its own on the job's connection (not while the session is open)."""
        with self.db.Session(bind=self.connection) as session, session.begin():
            yield session

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        """Record progress and renew the lease; stops the job here if a cancel was asked for.

        Before the session is opened the progress is visible at once; after, it lands with the job.
        """
        values = {"done": done, "total": total, "message": message and message[:500]}
        if self._session is not None:
            # The job's row is now locked by this open transaction: the heartbeat thread would wait
            # on it, so this job's lease is renewed here, with the work, from now on.
            self.row_locked = True
            cancel = job_service.heartbeat(self._session, self.claim, self.lease_seconds, values)
        else:
            with self.transaction() as session:
                cancel = job_service.heartbeat(session, self.claim, self.lease_seconds, values)
        if cancel:
            self.cancel_event.set()
        self.raise_if_cancelled()

    def raise_if_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise JobCancelled()

    def sleep(self, seconds: float) -> None:
        """Wait, but wake up to stop as soon as a cancel is seen."""
        if self.cancel_event.wait(seconds):
            raise JobCancelled()

    def beat(self) -> None:
        """Renew the lease on a pooled connection (the heartbeat thread's, never the job's)."""
        try:
            with self.db.Session.begin() as session:
                if job_service.heartbeat(session, self.claim, self.lease_seconds):
                    self.cancel_event.set()
        except job_service.LeaseLost:
            self.cancel_event.set()
        except Exception:  # a missed beat is retried at the next one: the lease outlasts three
            log.warning("lease renewal failed", exc_info=True)

    def commit(self) -> None:
        self.session.commit()

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


class JobTask(AppContextTask):
    """Celery task base for job kinds; see the module docstring for the guarantees."""

    abstract = True
    job_function: Callable[[JobContext, dict], dict | None]

    def run_job(self, job_id: str) -> None:
        settings, db = get_settings(), get_db()
        ident = uuid.UUID(job_id)
        # One connection for the whole job: one checkout (and pre-ping) instead of one per transaction.
        with job_context(job_id), db.engine.connect() as connection:
            with db.Session(bind=connection) as session, session.begin():
                skip_flush_wait(session)
                claim = job_service.claim(session, ident, lease_seconds=settings.job_lease_seconds,
                                          worker=self.request.hostname or "worker")
            if claim is None:
                log.info("job already claimed or finished; message dropped")
                return
            ctx = JobContext(claim, db, settings.job_lease_seconds, connection)
            if claim.attempt > claim.max_attempts:
                self._finish_alone(ctx, JobStatus.failed, error=_error(
                    "max_attempts_exceeded", "the job ran out of attempts", {"attempts": claim.max_attempts}))
                return
            started = time.monotonic()
            status = self._run(ctx)
            if status is not None:
                record_finished(claim.kind, status.value, time.monotonic() - started)

    def _run(self, ctx: JobContext) -> JobStatus | None:
        claim = ctx.claim
        with HEARTBEATS.tracking(ctx):
            try:
                result = self.job_function(ctx, ctx.payload)
                job_service.finish(ctx.session, claim, JobStatus.succeeded, result=result or {})
                ctx.commit()
                return JobStatus.succeeded
            except job_service.LeaseLost:
                log.warning("lease lost; this attempt's work is rolled back")
                return None
            except JobCancelled:
                ctx.close()
                return self._finish_alone(ctx, JobStatus.cancelled,
                                          error=_error("cancelled", "cancelled while running"))
            except DomainError as exc:
                ctx.close()
                return self._finish_alone(ctx, JobStatus.failed, error=exc.as_dict())
            except TRANSIENT as exc:
                ctx.close()
                return self._retry_or_fail(ctx, exc)
            except Exception as exc:
                log.exception("job failed unexpectedly")
                ctx.close()
                return self._finish_alone(ctx, JobStatus.failed, error=_error(
                    "internal_error", "the job failed unexpectedly", {"type": type(exc).__name__}))
            finally:
                ctx.close()

    def _finish_alone(self, ctx: JobContext, status: JobStatus, *, error: dict) -> JobStatus | None:
        try:
            with ctx.transaction() as session:
                job_service.finish(session, ctx.claim, status, error=error)
            return status
        except job_service.LeaseLost:
            log.warning("lease lost before the job could be marked %s", status.value)
        except TRANSIENT:
            log.warning("could not record the job's end; the lease reaper will take it", exc_info=True)
        return None

    def _retry_or_fail(self, ctx: JobContext, exc: Exception) -> JobStatus | None:
        claim = ctx.claim
        code = getattr(exc, "code", None) if isinstance(exc, TransientError) else "transient_error"
        error = _error(code, str(exc)[:500] or type(exc).__name__, {"attempt": claim.attempt})
        if claim.attempt >= claim.max_attempts:
            return self._finish_alone(ctx, JobStatus.failed, error=error)
        delay = backoff(claim.attempt, get_settings())
        try:
            with ctx.transaction() as session:
                job_service.schedule_retry(session, claim, delay, error)
        except job_service.LeaseLost:
            return None
        except TRANSIENT:
            log.warning("could not record the retry; the lease reaper will take the job", exc_info=True)
            return None
        log.info("transient failure, retrying in %.1fs", delay, extra={"error": error})
        if not dispatch.publish(claim.job_id, claim.kind, countdown=delay):
            with ctx.transaction() as session:
                job_service.mark_undispatched(session, claim.job_id)
        return None


def backoff(attempt: int, settings) -> float:
    """Exponential backoff with "equal jitter": half the step for sure, half at random."""
    step = min(settings.job_retry_backoff_max_seconds, settings.job_retry_backoff_seconds * 2 ** (attempt - 1))
    return step / 2 + random.uniform(0, step / 2)


def _error(code: str, message: str, details: dict | None = None) -> dict:
    return {"code": code, "message": message, "details": details or {}}


def job_task(kind: str, queue: str = "default"):
    """Register `fn(ctx, payload) -> result` as the job kind `kind`, run by a JobTask on `queue`."""

    def decorate(fn: Callable[[JobContext, dict], dict | None]):
        spec = registry.register(kind, queue)

        def run(self, job_id: str) -> None:
            self.run_job(job_id)

        run.__name__, run.__doc__ = fn.__name__, fn.__doc__
        base = type(f"{fn.__name__.title()}JobTask", (JobTask,), {"job_function": staticmethod(fn)})
        return shared_task(name=spec.task_name, base=base, bind=True)(run)

    return decorate
