"""Reading an uploaded file as a stream of rows: CSV/TSV in any of the usual encodings and delimiters, or XLSX.

A file that is not what it says is refused before it is parsed (`DomainError`, a clear code): binary
data under a text name, an XLSX whose zip entries inflate past the limits (a zip bomb) or whose sheet
spans more columns than a catalogue has. Rows are read one at a time with capped line, field and
column sizes, so no file makes the reader hold more than a row in memory (XLSX: calamine holds the sheet).
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import BinaryIO, Iterator

from charset_normalizer import from_bytes

from services.errors import DomainError

PREFIX_BYTES = 64 * 1024  # what encoding and delimiter detection look at
MAX_COLUMNS = 200
MAX_FIELD_CHARS = 64 * 1024
MAX_LINE_CHARS = 1024 * 1024
XLSX_MAX_UNCOMPRESSED = 2 * 1024**3  # all entries together
XLSX_MAX_RATIO = 200  # uncompressed / compressed, for an entry above XLSX_RATIO_FLOOR
XLSX_RATIO_FLOOR = 10 * 1024**2
DELIMITERS = (",", ";", "\t", "|")
MAGIC = {b"\x89PNG": "PNG image", b"%PDF": "PDF document", b"GIF8": "GIF image", b"\xff\xd8\xff": "JPEG image",
         b"\x1f\x8b": "gzip archive", b"Rar!": "RAR archive", b"7z\xbc\xaf": "7-Zip archive",
         b"\xd0\xcf\x11\xe0": "legacy Office (XLS/DOC) file", b"MZ": "Windows executable", b"\x7fELF": "executable"}
ACCEPTED_ENCODINGS = {"utf_8": "utf-8", "ascii": "utf-8", "utf_16": "utf-16", "utf_16_le": "utf-16-le",
                      "utf_16_be": "utf-16-be", "cp1252": "cp1252", "latin_1": "latin-1"}
COLUMN_REF = re.compile(rb'<c r="([A-Z]{2,3})\d')

csv.field_size_limit(MAX_FIELD_CHARS)


class FileRefused(DomainError):
    status = 422


@dataclass(frozen=True)
class RowSource:
    """The header row and an iterator of (row number, values) after it; the row number is the file's
    (a spreadsheet's: the header is row 1). `details` says what was detected (encoding, delimiter, sheet)."""

    headers: list[str]
    rows: Iterator[tuple[int, list[str]]]
    details: dict


def open_rows(stream: BinaryIO, file_name: str, options: dict) -> RowSource:
    """The file's rows, whatever its format; refuses a file that is not a CSV/TSV text or an XLSX."""
    head = stream.read(PREFIX_BYTES)
    if getattr(stream, "seekable", lambda: False)():
        stream.seek(0)
    else:  # an S3 object's body
        stream = io.BufferedReader(_Replayed(head, stream), 1 << 16)
    if head.startswith(b"PK\x03\x04"):
        return _xlsx_rows(stream, options.get("sheet"))
    for magic, what in MAGIC.items():
        if head.startswith(magic):
            raise FileRefused(f"the file is a {what}, not a CSV or XLSX file", code="unsupported_file_type",
                              details={"detected": what, "file_name": file_name})
    return _csv_rows(stream, head, options)


class _Replayed(io.RawIOBase):
    """A stream that cannot seek, read from its start again: the bytes already read, then the rest."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self.head, self.rest = memoryview(head), rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.head:
            count = min(len(buffer), len(self.head))
            buffer[:count], self.head = self.head[:count], self.head[count:]
            return count
        data = self.rest.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


# CSV and TSV ---------------------------------------------------------------------------------------

def detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        if b"\x00" not in head:
            return "utf-8"
    except UnicodeDecodeError:
        pass
    best = from_bytes(head).best()
    if best is None or (b"\x00" in head and not best.encoding.startswith("utf_16")):
        raise FileRefused("the file is not text in an encoding we read (UTF-8, UTF-16, Windows-1252, Latin-1)",
                          code="not_text")
    if best.encoding in ACCEPTED_ENCODINGS:
        return ACCEPTED_ENCODINGS[best.encoding]
    # Another single-byte guess (cp1250, mac_roman, ...): Windows-1252 when it decodes, else Latin-1 (always does).
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def sniff_delimiter(first_line: str) -> str:
    """The candidate found most often outside quotes in the header line; `,` when none is."""
    outside = re.sub(r'"[^"]*"', "", first_line)
    counts = {d: outside.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _capped_lines(text: io.TextIOBase) -> Iterator[str]:
    while line := text.readline(MAX_LINE_CHARS):
        if len(line) >= MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            raise FileRefused(f"a line of the file is longer than {MAX_LINE_CHARS} characters",
                              code="line_too_long", details={"limit": MAX_LINE_CHARS})
        yield line


def _csv_rows(stream: BinaryIO, head: bytes, options: dict) -> RowSource:
    encoding = options.get("encoding") or detect_encoding(head)
    text = io.TextIOWrapper(stream, encoding=encoding, errors="strict", newline="")
    lines = _capped_lines(text)
    try:
        first = next(lines, "")
    except UnicodeDecodeError as exc:
        raise _undecodable(encoding, 1) from exc
    delimiter = options.get("delimiter") or sniff_delimiter(first)
    records = csv.reader(_prepend(first, lines), delimiter=delimiter)
    headers = _checked(_next_record(records, encoding, 1) or [], 1)
    if not any(h.strip() for h in headers):
        raise FileRefused("the file has no header row", code="empty_file")
    return RowSource([h.lstrip("\ufeff") for h in headers], _records(records, encoding),
                     {"format": "csv", "encoding": encoding, "delimiter": delimiter})


def _prepend(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _next_record(records, encoding: str, number: int) -> list[str] | None:
    try:
        return next(records, None)
    except UnicodeDecodeError as exc:
        raise _undecodable(encoding, number) from exc
    except csv.Error as exc:
        raise FileRefused("a field of the file is malformed or longer than allowed", code="malformed_csv",
                          details={"row": number, "field_limit": MAX_FIELD_CHARS}) from exc


def _records(records, encoding: str) -> Iterator[tuple[int, list[str]]]:
    number = 1
    while True:
        number += 1
        row = _next_record(records, encoding, number)
        if row is None:
            return
        if any(row):
            yield number, _checked(row, number)


def _checked(row: list, number: int) -> list:
    if len(row) > MAX_COLUMNS:
        raise FileRefused(f"row {number} has more than {MAX_COLUMNS} columns", code="too_many_columns",
                          details={"row": number, "limit": MAX_COLUMNS})
    return row


def _undecodable(encoding: str, number: int) -> FileRefused:
    return FileRefused(f"the file is not valid {encoding} text (near row {number}); give its encoding",
                       code="bad_encoding", details={"encoding": encoding, "row": number})


# XLSX ----------------------------------------------------------------------------------------------

def _xlsx_rows(stream: BinaryIO, sheet_name: str | None) -> RowSource:
    from python_calamine import CalamineError, CalamineWorkbook

    path, copied = _local_path(stream)
    try:
        _check_zip(path)
        workbook = CalamineWorkbook.from_path(path)
        names = workbook.sheet_names
        if sheet_name is not None and sheet_name not in names:
            raise FileRefused("the workbook has no sheet of that name", code="sheet_not_found",
                              details={"sheet": sheet_name, "sheets": names[:50]})
        sheet = workbook.get_sheet_by_name(sheet_name) if sheet_name else workbook.get_sheet_by_index(0)
    except (CalamineError, ValueError, OSError) as exc:
        raise FileRefused("the file is not a readable XLSX workbook", code="unreadable_xlsx") from exc
    finally:
        if copied:  # the sheet is in memory now
            os.unlink(path)
    if sheet.width > MAX_COLUMNS:
        raise FileRefused(f"the sheet has more than {MAX_COLUMNS} columns", code="too_many_columns",
                          details={"limit": MAX_COLUMNS, "columns": sheet.width})
    first_row = (sheet.start or (0, 0))[0] + 1
    rows = ([cell_text(cell) for cell in row] for row in sheet.iter_rows())
    numbered = ((first_row + index, row) for index, row in enumerate(rows))
    header = next(numbered, (1, []))[1]
    if not any(h.strip() for h in header):
        raise FileRefused("the sheet has no header row", code="empty_file")
    data = ((number, row) for number, row in numbered if any(row))
    return RowSource(header, data, {"format": "xlsx", "sheet": sheet.name})


def _local_path(stream: BinaryIO) -> tuple[str, bool]:
    """A path to the bytes (zip needs to seek; calamine reads paths fastest): the file's own, or a
    temporary copy's (True: the caller removes it)."""
    name = getattr(stream, "name", None)
    if isinstance(name, str) and os.path.isfile(name):
        return name, False
    copy = tempfile.NamedTemporaryFile(prefix="conveyor-import-", suffix=".xlsx", delete=False)
    with copy:
        shutil.copyfileobj(stream, copy, 1 << 20)
    return copy.name, True


def _check_zip(path: str) -> None:
    """Refuse zip bombs and sheets that spread over more columns than allowed, before calamine inflates them."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            total = sum(entry.file_size for entry in entries)
            bombs = [e.filename for e in entries
                     if e.file_size > XLSX_RATIO_FLOOR and e.file_size > XLSX_MAX_RATIO * max(e.compress_size, 1)]
            if total > XLSX_MAX_UNCOMPRESSED or bombs:
                raise FileRefused("the workbook inflates far beyond its size (a zip bomb?)", code="zip_bomb",
                                  details={"uncompressed_bytes": total, "limit": XLSX_MAX_UNCOMPRESSED})
            for entry in entries:
                if entry.filename.startswith("xl/worksheets/") and entry.filename.endswith(".xml"):
                    _check_sheet_columns(archive, entry)
    except zipfile.BadZipFile as exc:
        raise FileRefused("the file is not a readable XLSX workbook", code="unreadable_xlsx") from exc


def _check_sheet_columns(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> None:
    """Scan the sheet's XML, inflated a chunk at a time, for a cell beyond column MAX_COLUMNS."""
    tail = b""
    with archive.open(entry) as xml:
        while chunk := xml.read(1 << 20):
            for match in COLUMN_REF.finditer(tail + chunk):
                if _column_number(match.group(1)) > MAX_COLUMNS:
                    raise FileRefused(f"the sheet has cells beyond column {MAX_COLUMNS}", code="too_many_columns",
                                      details={"limit": MAX_COLUMNS, "cell_column": match.group(1).decode()})
            tail = chunk[-16:]


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def cell_text(cell) -> str:
    """A cell as the text a CSV would hold: numbers without a spurious `.0` or float noise (the field then
    reads `10.5` as the exact 10.50 of a 2-place price), booleans as `true`/`false`, dates in ISO form."""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, float):  # to 15 significant digits, as spreadsheets show them: 0.1+0.2 is `0.3`
        if cell.is_integer() and abs(cell) < 1e15:
            return str(int(cell))
        shortest = repr(cell)
        if len(shortest) <= 16 and "e" not in shortest:  # 15 digits or fewer: already what a spreadsheet shows
            return shortest
        return format(Decimal(f"{cell:.15g}"), "f")
    if isinstance(cell, (datetime, date, time)):
        return cell.isoformat()
    if isinstance(cell, timedelta):
        return str(cell)
    return "" if cell is None else str(cell)
