"""The `jobs` table: the durable truth about every job, whatever Celery's broker knows or forgets."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class JobStatus(str, enum.Enum):
    queued = "queued"
    running = "running"
    waiting = "waiting"  # a parent whose function returned to wait for its children; no worker holds it
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def finished(self) -> bool:
        return self in FINISHED


FINISHED = frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled})


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("owner_id", "idempotency_key"),
        # NULLs are distinct in a unique constraint: system jobs (no owner) need their own index.
        Index("uq_jobs_system_idempotency_key", "idempotency_key", unique=True,
              postgresql_where=text("owner_id IS NULL"), sqlite_where=text("owner_id IS NULL")),
        Index("ix_jobs_owner_created", "owner_id", "created_at"),
        # The outbox dispatcher and the lease reaper scan by status and time.
        Index("ix_jobs_status_available", "status", "available_at"),
        Index("ix_jobs_status_lease", "status", "lease_expires_at"),
        # The usage rollup finds the days whose finished jobs changed (services/usage/sources.py).
        Index("ix_jobs_finished_at", "finished_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(64))
    # None: a system job (beat's, a webhook's); users cannot see or cancel it, admins can.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), index=True)
    queue: Mapped[str] = mapped_column(String(32))
    status: Mapped[JobStatus] = mapped_column(
        Enum(JobStatus, name="job_status", native_enum=False, length=16), default=JobStatus.queued
    )
    # A parent's progress counts its children: `total` children made, `done` of them finished.
    progress_done: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int | None]
    progress_message: Mapped[str | None] = mapped_column(String(500))
    payload: Mapped[dict] = mapped_column(default=dict)
    result: Mapped[dict | None]
    error: Mapped[dict | None]
    # Where a job that commits in steps resumes: written with each step, in the step's transaction.
    checkpoint: Mapped[dict | None]
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int]
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    # Not before this time may the job be (re)published: set by retries' backoff.
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the job's message was last handed to the broker; the outbox dispatcher re-publishes from it.
    dispatched_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime | None]
    # The attempt's hard time limit: its lease is never renewed past this moment.
    deadline_at: Mapped[datetime | None]
    worker: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class JobEvent(Base):
    """An append-only trail of a job's transitions: what happened, in which attempt, when."""

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int]
    event: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(default=utcnow)
