"""Numbers as spreadsheets write them: `1234.56`, `1,234.56` or `1.234,56`, and which style a file uses."""

from __future__ import annotations

import re
from decimal import Decimal

from services.errors import DomainError

STYLES = {".": re.compile(r"^-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$"),
          ",": re.compile(r"^-?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$")}


def parse_decimal(text: str, separator: str) -> Decimal:
    """`1.234,56` (separator `,`) or `1,234.56` (`.`) as a Decimal; ValueError if it is neither."""
    text = text.strip().replace(" ", "").replace("\u00a0", "")
    if not STYLES[separator].match(text):
        raise ValueError(text)
    thousands = "," if separator == "." else "."
    return Decimal(text.replace(thousands, "").replace(separator, "."))


def decimal_style(text: str) -> str | None:
    """The decimal separator a number must be written with, or None when either reads it (`12`, `1,234`)."""
    text = text.strip().rstrip("%")
    last_dot, last_comma = text.rfind("."), text.rfind(",")
    if last_dot >= 0 and last_comma >= 0:
        return "." if last_dot > last_comma else ","
    mark = max(last_dot, last_comma)
    if mark < 0:
        return None
    if text.count(text[mark]) > 1:  # repeated: thousands marks, so the other one is the decimal separator
        return "," if text[mark] == "." else "."
    return None if len(text) - mark - 1 == 3 else text[mark]  # `1,234` reads either way


def detect_decimal_separator(values: list[str]) -> str:
    """`.` or `,` from a sample of a file's numbers (`.` when none tells); refused when both styles appear."""
    styles = {style for style in map(decimal_style, values) if style}
    if len(styles) > 1:
        raise DomainError("the file writes numbers both as 1,234.56 and as 1.234,56; give decimal_separator",
                          code="ambiguous_decimal_separator")
    return styles.pop() if styles else "."
