"""Spreadsheet cells written as text (CSV): one spelling per type, and no cell a spreadsheet would run as a formula.

The formula protection is symmetrical, so that an export imports back unchanged: `safe_cell` puts a `'`
before text that starts like a formula (after any `'`s of its own), and `unprotected` (what imports
apply to each cell) takes exactly that one `'` away again.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

PROTECTABLE = re.compile(r"'*[=+\-@\t\r]")  # text that gets a protecting quote
PROTECTED = re.compile(r"'+[=+\-@\t\r]")  # text that carries one


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
    return "'" + cell if PROTECTABLE.match(cell) else cell


def unprotected(cell: str) -> str:
    """The text `safe_cell` protected, as it was: `'=SUM(A1)` -> `=SUM(A1)`, `''=x` -> `'=x`; other text as is."""
    return cell[1:] if PROTECTED.match(cell) else cell
