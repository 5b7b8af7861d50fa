"""A file's rows, validated one at a time: schema errors and keys seen earlier in the file become row errors.

Keys already seen are kept as 8-byte digests, not strings, so a file of a million rows costs a set of
ints; a resumed run re-validates the rows before its checkpoint to rebuild that set, writing nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from marshmallow import ValidationError


DECIMAL_FIELDS = ("price", "cost", "tax_rate")
KEYS = {"products": ("sku",), "stock": ("sku", "size")}
UNIQUE_TOO = {"products": ("barcode",), "stock": ()}  # also unique across the file, when given


@dataclass
class Row:
    number: int  # in the file: the header is row 1
    values: list[str]
    data: dict | None = None  # validated; None for an error
    column: str | None = None
    message: str | None = None
    key: str = ""
    outcome: str | None = None  # new | update | skip | error, once planned
    changes: list[str] = field(default_factory=list)

    def fail(self, column: str, message: str) -> None:
        self.data, self.outcome, self.column, self.message = None, "error", column, message


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big")


class RowValidator:
    def __init__(self, kind: str, schema, positions: dict[str, int], labels: dict[str, str]):
        self.kind, self.schema, self.positions, self.labels = kind, schema, positions, labels  # labels: field -> header
        self.seen: dict[str, set[int]] = {name: set() for name in ("key", *UNIQUE_TOO[kind])}

    def check(self, number: int, values: list[str]) -> Row:
        raw = {name: (values[index] if index < len(values) else "") for name, index in self.positions.items()}
        row = Row(number, values)
        try:
            row.data = self.schema.load(raw)
        except ValidationError as exc:
            problems = exc.normalized_messages()
            row.fail(next(iter(problems)).replace("_schema", ""), "; ".join(
                f"{self.labels.get(column, column)}: {' '.join(map(str, m)) if isinstance(m, list) else m}"
                for column, m in problems.items()))
            return row
        row.key = " / ".join(str(row.data.get(name, "")) for name in KEYS[self.kind])
        duplicate = self._seen_before("key", row.key)
        if duplicate:
            row.fail(KEYS[self.kind][0], f"{row.key} appears earlier in the file")
            return row
        for name in UNIQUE_TOO[self.kind]:
            if row.data.get(name) and self._seen_before(name, row.data[name]):
                row.fail(name, f"{name} {row.data[name]} appears earlier in the file")
        return row

    def _seen_before(self, name: str, value: str) -> bool:
        digest = _digest(value)
        if digest in self.seen[name]:
            return True
        self.seen[name].add(digest)
        return False
