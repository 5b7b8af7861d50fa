"""Spreadsheet cells written as text (CSV): one spelling per type, and no cell a spreadsheet would run as a formula."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text(value) -> str:
    """Empty for None, `true`/`false`, decimals plainly with `.` (never an exponent), times in ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def safe_cell(value) -> str:
    """The cell as text; one that starts like a formula gets a leading quote, so it stays text
    (CSV injection). Numbers are written by us and never start so, except negative amounts, which
    a reader would see as "'-1.00": amounts in reports and exports are never negative."""
    cell = text(value)
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell
