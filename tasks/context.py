"""What a job's function gets: its payload, short transactions, steps, progress, live events, children.

Transactions stay short: a job does its slow work (reading a file, calling a provider, sleeping)
outside any transaction, and writes in `step()`s or in its final transaction (`job.session`), which
opens at first use and commits with the job's final status. Nothing here holds a pooled database
connection between transactions, so hundreds of jobs can wait on the network in one process.
"""

from __future__ import annotations

import threading
import time
import uuid
from contextlib import contextmanager
from typing import Iterator, NoReturn

from sqlalchemy.orm import Session

from models import Job
from services import jobs as job_service
from services.jobs.after_commit import LiveEvent
from worker.submission import enqueue


class JobStopped(Exception):
    """The job must stop where it is."""


class JobCancelled(JobStopped):
    pass


class TimeLimitExceeded(JobStopped):
    """The attempt ran past its soft time limit."""


class WaitForChildren(Exception):
    """Raised by `job.wait_for_children()`: the job gives up its worker until its children have ended."""


class JobContext:
    def __init__(self, claim: job_service.Claim, runtime, *, lease_seconds: float, soft_time_limit: float,
                 time_limit: float):
        self.claim = claim
        self.payload = claim.payload
        self.checkpoint = claim.checkpoint  # where a job that commits in steps resumes; None at first
        self.runtime = runtime
        self.db = runtime.db
        self.lease_seconds = lease_seconds
        self.soft_time_limit = soft_time_limit
        self.time_limit = time_limit
        self.started = time.monotonic()
        self.renewed = self.started
        self._stop_reason: str | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._progress: dict | None = None
        self._progress_dirty = False
        self._final: Session | None = None

    @property
    def job_id(self) -> uuid.UUID:
        return self.claim.job_id

    @property
    def attempt(self) -> int:
        return self.claim.attempt

    @property
    def owner_id(self) -> int | None:
        return self.claim.owner_id

    @property
    def kind(self) -> str:
        return self.claim.kind

    # Transactions ---------------------------------------------------------------------------

    @property
    def session(self) -> Session:
        """The job's final transaction: its last domain writes commit with its final status.

        Opened at first use, so use it once the slow work is done: on SQLite it holds the write lock.
        """
        if self._final is None:
            self._final = self.db.Session()
            self._final.begin()
        return self._final

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A short read-only transaction."""
        with self.db.read() as session:
            yield session

    @contextmanager
    def step(self, checkpoint: dict | None, *, done: int | None = None, total: int | None = None,
             message: str | None = None) -> Iterator[Session]:
        """A short transaction of its own, fenced by the attempt: its writes, the new checkpoint and the
        progress commit together, or not at all (if the job was taken over, LeaseLost).

        A job killed half-way resumes at its next attempt from `job.checkpoint`, the last committed
        step's, so no step's writes land twice. Stops here, before writing, if the job must stop.
        """
        if self._final is not None:
            raise RuntimeError("a step cannot follow the job's final transaction")
        self.raise_if_stopped()
        # Without progress of its own the step leaves the job's as it is (a parent's counts its children).
        progress = self._set_progress(done, total, message) if done is not None else self.take_progress()
        with self.db.Session.begin() as session:
            yield session
            cancel = job_service.commit_step(session, self.claim, self.lease_seconds, checkpoint, progress)
        self.checkpoint = checkpoint
        self.renewed = time.monotonic()
        if done is not None:
            self.emit("progress", progress)
        if cancel:
            self.stop("cancelled")

    def spawn(self, session: Session, kind: str, payload: dict, *, idempotency_key: str | None = None) -> uuid.UUID:
        """Create a child job in `session` (a step's, so that it is made once); sent when that commits.

        The child belongs to this job's owner; this job's progress counts its children as they end.
        """
        child, _ = enqueue(session, kind, payload, owner_id=self.owner_id, parent_id=self.job_id,
                           idempotency_key=idempotency_key or f"child {self.job_id} {uuid.uuid4()}")
        return child.id

    def wait_for_children(self) -> NoReturn:
        """Give up the worker until every child has ended; then this job runs again from its checkpoint."""
        raise WaitForChildren()

    def children(self) -> list[Job]:
        with self.read() as session:
            return job_service.children_of(session, self.job_id)

    # Progress, events, stopping -----------------------------------------------------------------

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        """Report progress: pushed to the job's live stream now, written to the job within a second
        (by the heartbeat, never holding this thread). Stops here if the job must stop."""
        self.emit("progress", self._set_progress(done, total, message))
        self.raise_if_stopped()

    def emit(self, event: str, data: dict) -> None:
        """Push an event of this kind's own (a token, a row count) to the job's live stream."""
        self.runtime.events.publish([LiveEvent(self.job_id, event, data)])

    def sleep(self, seconds: float) -> None:
        """Wait, but wake up to stop as soon as the job must stop."""
        if self._final is not None:
            raise RuntimeError("sleeping inside the job's final transaction would hold it open")
        if self._stopped.wait(seconds):
            self.raise_if_stopped()

    @property
    def stop_reason(self) -> str | None:
        """Why the job was asked to stop ("cancelled", "time_limit", "lease_lost"), or None."""
        return self._stop_reason

    def raise_if_stopped(self) -> None:
        if self._stopped.is_set():
            raise TimeLimitExceeded() if self._stop_reason == "time_limit" else JobCancelled()

    # For the runtime -----------------------------------------------------------------------------

    def stop(self, reason: str) -> None:
        """Ask the job to stop at its next step, progress or sleep: "cancelled", "time_limit", "lease_lost"."""
        if self._stop_reason is None:
            self._stop_reason = reason
        self._stopped.set()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def take_progress(self) -> dict | None:
        """Progress not yet written to the job (for the heartbeat)."""
        with self._lock:
            if not self._progress_dirty:
                return None
            self._progress_dirty = False
            return self._progress

    def finish(self, status, *, result: dict | None = None, error: dict | None = None) -> None:
        """Write the final status: with the job's last writes if it made some, else on its own, in one
        statement (the common case: a job whose work is elsewhere, or that only reports); a child's end
        also counts on its parent, in the same transaction."""
        if self._final is None:
            alone = self.db.autocommit() if self.claim.parent_id is None else self.db.Session.begin()
            with alone as session:
                job_service.finish(session, self.claim, status, result=result, error=error,
                                   progress=self.take_progress())
            return
        job_service.finish(self._final, self.claim, status, result=result, error=error, progress=self.take_progress())
        self._final.commit()

    def close(self) -> None:
        """Roll back the final transaction if it is still open."""
        if self._final is not None:
            self._final.close()
            self._final = None

    def _set_progress(self, done: int, total: int | None, message: str | None) -> dict:
        with self._lock:
            self._progress = {"done": done, "total": total, "message": message and message[:500]}
            self._progress_dirty = True
            return self._progress
