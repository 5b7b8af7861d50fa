"""Atomic imports' staging area: the valid rows wait here (as the file wrote them) until the switch-in."""

from __future__ import annotations

import uuid
from typing import Iterator

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from models import ImportStagedRow
from services.imports.validation import Row


def stage(session: Session, import_id: uuid.UUID, rows: list[Row]) -> None:
    staged = [{"import_id": import_id, "row_number": row.number, "data": {"values": row.values}}
              for row in rows if row.outcome != "error"]
    if staged:
        session.execute(insert(ImportStagedRow), staged)


def staged(session: Session, import_id: uuid.UUID, batch: int) -> Iterator[list[tuple[int, list[str]]]]:
    """The staged rows in file order, `batch` at a time, as (row number, values)."""
    after = 0
    while True:
        rows = session.execute(select(ImportStagedRow.row_number, ImportStagedRow.data).where(
            ImportStagedRow.import_id == import_id, ImportStagedRow.row_number > after)
            .order_by(ImportStagedRow.row_number).limit(batch)).all()
        if not rows:
            return
        yield [(number, data["values"]) for number, data in rows]
        after = rows[-1].row_number


def clear(session: Session, import_id: uuid.UUID) -> None:
    session.execute(delete(ImportStagedRow).where(ImportStagedRow.import_id == import_id))
