"""The import log: one row per uploaded catalogue or stock file, its rows in error, and atomic imports' staged rows.

An import's status is its latest job's (`job_id`); the import keeps what the job found: the counts by
outcome, the first outcomes of each kind, the columns it matched, and how long the run took.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow

FILE_NAME_LENGTH, COLUMN_LENGTH, MESSAGE_LENGTH = 255, 200, 1000


class Import(Base):
    __tablename__ = "imports"
    __table_args__ = (Index("ix_imports_owner_created", "owner_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(16))  # products | stock
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id", ondelete="RESTRICT"))
    file_name: Mapped[str] = mapped_column(String(FILE_NAME_LENGTH))
    storage_key: Mapped[str] = mapped_column(String(500))
    size_bytes: Mapped[int] = mapped_column(Integer)
    options: Mapped[dict] = mapped_column(JSON)  # on_existing, atomic, encoding, delimiter, decimal_separator, sheet
    mode: Mapped[str] = mapped_column(String(16))  # the latest run's: preview | apply
    job_id: Mapped[uuid.UUID]  # the latest run's job
    headers: Mapped[list | None] = mapped_column(JSON)  # the file's header row, as written
    columns: Mapped[dict | None] = mapped_column(JSON)  # {field: header} matched; unknown headers in `unknown_columns`
    unknown_columns: Mapped[list | None] = mapped_column(JSON)
    counts: Mapped[dict] = mapped_column(JSON)  # {new, update, skip, error}
    samples: Mapped[dict] = mapped_column(JSON)  # the first outcomes of each kind
    preview_counts: Mapped[dict | None] = mapped_column(JSON)  # the preview's, kept when the upload is applied
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    duration_seconds: Mapped[float | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImportRowError(Base):
    """A row of the file that could not be imported: its number in the file, its values, where and why."""

    __tablename__ = "import_errors"

    import_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"), primary_key=True)
    row_number: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1 is the header row
    column: Mapped[str] = mapped_column(String(COLUMN_LENGTH))
    message: Mapped[str] = mapped_column(String(MESSAGE_LENGTH))
    values: Mapped[list] = mapped_column(JSON)


class ImportStagedRow(Base):
    """A valid row of an atomic import, waiting for the switch-in at the end of the run."""

    __tablename__ = "import_staged_rows"

    import_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"), primary_key=True)
    row_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[dict] = mapped_column(JSON)
