"""The import log: an import's record, its runs' counts and samples, its rows in error, as the API shows them."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Iterator

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from models import Import, ImportRowError, ImportStagedRow, Job, JobStatus, Role
from models.base import utcnow
from models.imports import COLUMN_LENGTH, MESSAGE_LENGTH
from services.errors import Conflict, NotFound
from services.imports.validation import Row
from services.pagination import page, where_given

OUTCOMES = ("new", "update", "skip", "error")
SAMPLES = 100  # outcomes of each kind kept for the preview
ERRORS_PAGE = 2000
REPORT_COLUMNS = ["_row", "_column", "_error"]  # after the file's own: the fixed file imports again


def empty_counts() -> dict:
    return {outcome: 0 for outcome in OUTCOMES}


def get(session: Session, import_id: uuid.UUID, principal=None) -> Import:
    record = session.get(Import, import_id)
    if record is None or (principal is not None and principal.role != Role.admin
                          and record.owner_id != principal.user_id):
        raise NotFound("no such import", code="import_not_found")
    return record


def create(session: Session, **values) -> Import:
    record = Import(counts=empty_counts(), samples={o: [] for o in OUTCOMES}, rows_read=0, created_at=utcnow(),
                    **values)
    session.add(record)
    session.flush()
    return record


def prepare_apply(session: Session, record: Import, job_id: uuid.UUID) -> None:
    """Point a previewed import at its apply job; the preview's counts are kept to compare."""
    job = session.get(Job, record.job_id)
    if record.mode != "preview" or job is None or job.status != JobStatus.succeeded:
        raise Conflict("only an import whose preview succeeded can be applied", code="import_not_previewed",
                       details={"mode": record.mode, "status": job.status.value if job else None})
    record.preview_counts, record.mode, record.job_id = dict(record.counts), "apply", job_id


def begin_run(session: Session, import_id: uuid.UUID, *, headers: list[str], columns: dict, unknown: list[str],
              details: dict) -> None:
    """A run starts from nothing: no counts, samples, rows in error or staged rows of an earlier run."""
    session.execute(delete(ImportRowError).where(ImportRowError.import_id == import_id))
    session.execute(delete(ImportStagedRow).where(ImportStagedRow.import_id == import_id))
    record = session.get(Import, import_id, with_for_update=True)
    record.headers, record.columns, record.unknown_columns = headers[:200], columns, unknown
    record.counts, record.samples, record.rows_read = empty_counts(), {o: [] for o in OUTCOMES}, 0
    record.options = {**record.options, "detected": details}
    record.started_at, record.finished_at, record.duration_seconds = utcnow(), None, None


class Tally:
    """A run's counts and samples so far (resumed from the record), and each batch's rows in error."""

    def __init__(self, record: Import, header_of: dict[str, str]):
        self.counts, self.samples = dict(record.counts), {k: list(v) for k, v in record.samples.items()}
        self.rows_read = record.rows_read
        self.header_of = header_of

    def add(self, rows: list[Row]) -> list[dict]:
        """Count the rows; returns their error records."""
        errors = []
        for row in rows:
            outcome = row.outcome or "error"
            self.counts[outcome] += 1
            if len(self.samples[outcome]) < SAMPLES:
                self.samples[outcome].append(self._sample(row))
            if outcome == "error":
                errors.append({"row_number": row.number, "column": self._column(row)[:COLUMN_LENGTH],
                               "message": (row.message or "")[:MESSAGE_LENGTH], "values": row.values})
        self.rows_read += len(rows)
        return errors

    def _column(self, row: Row) -> str:
        return self.header_of.get(row.column or "", row.column or "")

    def _sample(self, row: Row) -> dict:
        sample = {"row": row.number, "key": row.key or None}
        if row.outcome == "update":
            sample["changes"] = row.changes
        if row.outcome in (None, "error"):
            sample.update(column=self._column(row), message=row.message)
        return sample

    def save(self, session: Session, import_id: uuid.UUID, errors: list[dict]) -> None:
        if errors:
            session.execute(insert(ImportRowError), [{"import_id": import_id, **e} for e in errors])
        record = session.get(Import, import_id)
        record.counts, record.samples, record.rows_read = dict(self.counts), self.samples, self.rows_read


def finish(session: Session, import_id: uuid.UUID, tally: Tally) -> dict:
    record = session.get(Import, import_id)
    record.counts, record.samples, record.rows_read = dict(tally.counts), tally.samples, tally.rows_read
    record.finished_at = utcnow()
    record.duration_seconds = (record.finished_at - record.started_at).total_seconds()
    return {"import_id": str(import_id), "mode": record.mode, "counts": record.counts,
            "differs_from_preview": differences(record)}


def differences(record: Import) -> dict | None:
    """{outcome: {preview, apply}} where an apply's counts differ from its preview's."""
    if record.mode != "apply" or record.preview_counts is None:
        return None
    return {o: {"preview": record.preview_counts.get(o, 0), "apply": record.counts.get(o, 0)} for o in OUTCOMES
            if record.preview_counts.get(o, 0) != record.counts.get(o, 0)}


def view(session: Session, record: Import) -> dict:
    job = session.get(Job, record.job_id)
    fields = {c.key: getattr(record, c.key) for c in Import.__table__.columns}
    return {**fields, "status": job.status.value, "error": job.error,
            "progress": {"done": job.progress_done, "total": job.progress_total, "message": job.progress_message},
            "differs_from_preview": differences(record) if record.finished_at else None}


def page_of(session: Session, principal, *, kind: str | None, limit: int, cursor: str | None) -> dict:
    stmt = where_given(select(Import), (Import.kind, kind))
    if principal.role != Role.admin:
        stmt = stmt.where(Import.owner_id == principal.user_id)
    items, next_cursor = page(session, stmt, Import, limit, cursor)
    return {"items": [view(session, item) for item in items], "next_cursor": next_cursor}


def error_report(read_session, record: Import) -> Iterator[str]:
    """errors.csv, a page of rows at a time: the file's columns, then the row number, column and message."""
    headers = record.headers or []
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*headers, *REPORT_COLUMNS])
    after = 0
    while True:
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        with read_session() as session:
            errors = list(session.scalars(select(ImportRowError).where(
                ImportRowError.import_id == record.id, ImportRowError.row_number > after)
                .order_by(ImportRowError.row_number).limit(ERRORS_PAGE)))
        if not errors:
            return
        for error in errors:
            values = list(error.values) + [""] * (len(headers) - len(error.values))
            writer.writerow([*values, error.row_number, error.column, error.message])
        after = errors[-1].row_number
