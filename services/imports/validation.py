"""A file's rows, validated one at a time with the kind's marshmallow schema: its fields' errors and keys seen
earlier in the file become row errors.

Each cell goes through its schema field's `deserialize` (type, range, length, the field's validators)
directly, without the per-row machinery of `Schema.load` (which cost more than the fields themselves),
or first through the field's fast path (schemas/imports.py `fast_paths`: the common valid cell read
with the field's own settings; anything else goes to the field, so errors read the same);
blank cells are absent, as `load_default` says. In CSV, a `'` that an export put before text starting
like a formula (services/exports/cells.py) is taken away again, so that the text imports as it was
(an XLSX cell is typed text: exports never quote it, and imports take it as it is). Text that repeats in a column (a category, a tax rate)
is deserialized once. Keys already seen are kept as their 64-bit hashes in one flat array (8 bytes a
key; a Python set of ints costs ~70), so a file of a million rows costs a few MB; a resumed run
re-validates the rows before its checkpoint to rebuild it.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

from marshmallow import ValidationError, missing

from services.exports.cells import unprotected

DECIMAL_FIELDS = ("price", "cost", "tax_rate")
KEYS = {"products": ("sku",), "stock": ("sku", "size")}
UNIQUE_TOO = {"products": ("barcode",), "stock": ()}  # also unique across the file, when given
REMEMBERED = 1000  # distinct texts per column whose value is kept
REQUIRED = "Missing data for required field."
MASK64 = (1 << 64) - 1


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


class Fingerprints:
    """A set of 64-bit hashes in one array, open addressing with linear probing, at most half full."""

    def __init__(self, capacity: int = 1 << 16):
        self.slots, self.mask, self.count = array("Q", bytes(8 * capacity)), capacity - 1, 0

    def seen_before(self, value: str) -> bool:
        """Whether `value` (its hash: this process's, so a resumed run rebuilds the set) was added; adds it."""
        digest = (hash(value) & MASK64) or 1  # 0 marks an empty slot
        slots, mask = self.slots, self.mask
        index = digest & mask
        while slot := slots[index]:
            if slot == digest:
                return True
            index = (index + 1) & mask
        slots[index] = digest
        self.count += 1
        if self.count * 2 > mask:
            self._grow()
        return False

    def _grow(self) -> None:
        old, capacity = self.slots, 2 * (self.mask + 1)
        self.slots, self.mask = array("Q", bytes(8 * capacity)), capacity - 1
        for digest in old:
            if digest:
                index = digest & self.mask
                while self.slots[index]:
                    index = (index + 1) & self.mask
                self.slots[index] = digest


class RowValidator:
    def __init__(self, kind: str, schema, positions: dict[str, int], labels: dict[str, str], *,
                 quoted_formulas: bool = False):
        self.kind, self.labels = kind, labels  # labels: field -> the file's header
        self.quoted_formulas = quoted_formulas  # a text file, where exports protect formulas with a `'`
        loaded = {name: f for name, f in schema.fields.items() if not f.dump_only}
        fast = schema.fast_paths()
        self.columns = [(name, f, positions[name], {}, fast.get(name)) for name, f in loaded.items()
                        if name in positions]
        self.defaults = {name: f.load_default for name, f in loaded.items()
                         if name not in positions and f.load_default is not missing}
        self.seen = {name: Fingerprints() for name in ("key", *UNIQUE_TOO[kind])}

    def check(self, number: int, values: list[str]) -> Row:
        row = Row(number, values)
        data, errors = dict(self.defaults), {}
        for name, column, index, known, fast in self.columns:
            text = values[index].strip() if index < len(values) else ""
            if text[:1] == "'" and self.quoted_formulas:
                text = unprotected(text)
            if not text:
                if column.required:
                    errors[name] = REQUIRED
                elif column.load_default is not missing:
                    data[name] = column.load_default
            elif text in known:
                data[name] = known[text]
            elif fast is not None and (value := fast(text)) is not None:
                data[name] = value
            else:
                try:
                    data[name] = value = column.deserialize(text)
                except ValidationError as exc:
                    errors[name] = " ".join(map(str, exc.messages)) if isinstance(exc.messages, list) else exc.messages
                    continue
                if len(known) < REMEMBERED and not isinstance(value, list):  # a list could be changed later
                    known[text] = value
        if errors:
            row.fail(next(iter(errors)), "; ".join(f"{self.labels.get(n, n)}: {m}" for n, m in errors.items()))
            return row
        row.data = data
        row.key = " / ".join(str(data.get(name, "")) for name in KEYS[self.kind])
        if self.seen["key"].seen_before(row.key):
            row.fail(KEYS[self.kind][0], f"{row.key} appears earlier in the file")
            return row
        for name in UNIQUE_TOO[self.kind]:
            if data.get(name) and self.seen[name].seen_before(data[name]):
                row.fail(name, f"{name} {data[name]} appears earlier in the file")
        return row
