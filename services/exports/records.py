"""Export records: made with their job, read by their owner (or an admin), marked ready by the job and
expired by beat; an export's state joins its own (the file) with its job's (the work)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import Export, ExportFormat, ExportKind, ExportStatus, Job, JobStatus
from services.auth import Principal
from services.errors import DomainError, NotFound
from services.pagination import page, where_given

# While an export waits for its file, its state is its job's.
JOB_STATES = {JobStatus.queued: "queued", JobStatus.running: "running", JobStatus.waiting: "running",
              JobStatus.failed: "failed", JobStatus.cancelled: "cancelled"}


class NotReady(NotFound):
    code = "export_not_ready"


class Expired(DomainError):
    code = "export_expired"
    status = 410


def storage_key(export_id: uuid.UUID, fmt: ExportFormat) -> str:
    return f"exports/{export_id}.{fmt.value}"


def record(session: Session, job: Job, kind: ExportKind, fmt: ExportFormat, filters: dict,
           now: datetime) -> Export:
    """The export of `job` (same id, same owner), in the job's transaction."""
    filename = f"{kind.value}-{now:%Y%m%d-%H%M%S}.{fmt.value}"
    export = Export(id=job.id, owner_id=job.owner_id, kind=kind, format=fmt, filters=filters, filename=filename,
                    status=ExportStatus.pending, created_at=now)
    session.add(export)
    return export


def get(session: Session, export_id: uuid.UUID, viewer: Principal) -> Export:
    """An export the viewer may see; another user's does not exist for them."""
    export = session.scalar(viewer.sees(select(Export).where(Export.id == export_id), Export.owner_id))
    if export is None:
        raise NotFound("no such export", code="export_not_found")
    return export


def view(session: Session, export: Export, now: datetime) -> dict:
    """The export as the API shows it: its columns, its state, and its job's progress and error."""
    return _views(session, [export], now)[0]


def page_for(session: Session, viewer: Principal, *, kind: ExportKind | None, limit: int, cursor: str | None,
             now: datetime) -> dict:
    items, next_cursor = page(session, where_given(viewer.sees(select(Export), Export.owner_id), (Export.kind, kind)),
                              Export, limit, cursor)
    return {"items": _views(session, items, now), "next_cursor": next_cursor}


def _views(session: Session, exports: list[Export], now: datetime) -> list[dict]:
    jobs = {job.id: job for job in session.scalars(select(Job).where(Job.id.in_([e.id for e in exports])))}
    return [_view(export, jobs.get(export.id), now) for export in exports]


def _view(export: Export, job: Job | None, now: datetime) -> dict:
    if export.status == ExportStatus.pending:
        # A job cleaned away (JOB_RETENTION_DAYS) without having written the file has failed.
        state = JOB_STATES.get(job.status, "failed") if job is not None else "failed"
    else:
        state = "expired" if _expired(export, now) else "ready"
    return {**{column: getattr(export, column) for column in _COLUMNS}, "status": state,
            "progress": job and {"done": job.progress_done, "total": job.progress_total},
            "error": job.error if job is not None and state in ("failed", "cancelled") else None}


_COLUMNS = ("id", "owner_id", "kind", "format", "filters", "filename", "rows", "size", "created_at", "finished_at",
            "expires_at")


def _expired(export: Export, now: datetime) -> bool:
    return export.status == ExportStatus.expired or (export.expires_at is not None and export.expires_at <= now)


def downloadable(export: Export, now: datetime) -> str:
    """The export's storage key; 404 `export_not_ready` before its file is written, 410 `export_expired` after."""
    if export.status == ExportStatus.pending:
        raise NotReady("the export's file is not ready yet", details={"export_id": str(export.id)})
    if _expired(export, now):
        raise Expired("the export's file has expired; export again",
                      details={"expired_at": export.expires_at and export.expires_at.isoformat()})
    return export.storage_key


def mark_ready(session: Session, export_id: uuid.UUID, key: str, rows: int, size: int, now: datetime,
               expires_at: datetime) -> None:
    session.execute(update(Export).where(Export.id == export_id).values(
        status=ExportStatus.ready, storage_key=key, rows=rows, size=size, finished_at=now, expires_at=expires_at))


def expire_due(session: Session, now: datetime) -> int:
    """Mark ready exports past their expiry as expired (their files are deleted by the same job); how many."""
    return session.execute(update(Export).where(Export.status == ExportStatus.ready, Export.expires_at <= now)
                           .values(status=ExportStatus.expired)).rowcount
