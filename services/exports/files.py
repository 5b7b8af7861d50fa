"""An export's file, written as its rows stream from the database: never the whole table in memory.

The rows come through a server-side cursor in chunks (`yield_per`); CSV goes out with the csv module,
XLSX with xlsxwriter in constant-memory mode (each row flushed to disk once the next begins).
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterable

import xlsxwriter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import ExportFormat, ExportKind
from services.errors import DomainError
from services.exports.cells import safe_cell, text
from services.exports.sources import source

CHUNK = 2000  # rows fetched at once, and between two progress reports
XLSX_MAX_ROWS = 1_048_576 - 1  # a sheet's rows, less the header
MEDIA_TYPES = {ExportFormat.csv: "text/csv; charset=utf-8",
               ExportFormat.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

Progress = Callable[[int, int], None]  # (rows written, rows in all)


def write_export(session: Session, kind: ExportKind, fmt: ExportFormat, filters: dict, path: Path,
                 progress: Progress) -> int:
    """Write the export to `path`; the rows written. `session` should see one snapshot (so that the count,
    the progress' total, agrees with the rows)."""
    rows = source(session, kind, filters)
    total = session.scalar(select(func.count()).select_from(rows.stmt.order_by(None).subquery()))
    if fmt == ExportFormat.xlsx and total > XLSX_MAX_ROWS:
        raise DomainError(f"an XLSX sheet holds at most {XLSX_MAX_ROWS} rows; export as CSV",
                          code="too_many_rows", details={"rows": total, "max_rows": XLSX_MAX_ROWS})
    progress(0, total)
    cells = (rows.cells(row) for row in session.execute(rows.stmt.execution_options(yield_per=CHUNK)))
    written = WRITERS[fmt](path, kind.value, rows.header, cells, lambda done: progress(done, total))
    progress(written, total)
    return written


def _csv(path: Path, title: str, header: tuple, rows: Iterable[tuple], progress: Callable[[int], None]) -> int:
    """RFC 4180, UTF-8, no cell a spreadsheet would run as a formula."""
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([safe_cell(cell) for cell in row])
            count += 1
            if count % CHUNK == 0:
                progress(count)
    return count


def _xlsx(path: Path, title: str, header: tuple, rows: Iterable[tuple], progress: Callable[[int], None]) -> int:
    """Typed cells: text as text (never a formula), numbers as numbers (decimals shown with their places),
    booleans as booleans, times as ISO 8601 text (UTC)."""
    with xlsxwriter.Workbook(str(path), {"constant_memory": True, "tmpdir": str(path.parent),
                                         "strings_to_numbers": False, "strings_to_formulas": False,
                                         "strings_to_urls": False}) as workbook:
        return _xlsx_rows(workbook, workbook.add_worksheet(title), header, rows, progress)


def _xlsx_rows(workbook, sheet, header: tuple, rows: Iterable[tuple], progress: Callable[[int], None]) -> int:
    sheet.write_row(0, 0, header, workbook.add_format({"bold": True}))
    sheet.freeze_panes(1, 0)
    places: dict[int, object] = {}  # a number format per count of decimal places

    def write(row: int, column: int, value) -> None:
        if value is None:
            return
        if isinstance(value, bool):
            sheet.write_boolean(row, column, value)
        elif isinstance(value, Decimal):
            exponent = -value.as_tuple().exponent
            if exponent not in places:
                places[exponent] = workbook.add_format({"num_format": "0." + "0" * exponent if exponent > 0 else "0"})
            sheet.write_number(row, column, float(value), places[exponent])
        elif isinstance(value, int):
            sheet.write_number(row, column, value)
        else:
            sheet.write_string(row, column, text(value))

    count = 0
    for count, row in enumerate(rows, start=1):
        for column, value in enumerate(row):
            write(count, column, value)
        if count % CHUNK == 0:
            progress(count)
    return count


WRITERS = {ExportFormat.csv: _csv, ExportFormat.xlsx: _xlsx}
