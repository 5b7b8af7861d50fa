"""Imports: the upload form, the import log as the API shows it, and the schemas each file row is validated with.

A row arrives as {field: text}; blank cells are absent (an update leaves those fields as they are).
Decimals are read in the file's style (`1234.56` or `1.234,56`), booleans in English or Spanish.
"""

from __future__ import annotations

import codecs
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Callable

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from models.imports import FILE_NAME_LENGTH
from models.sales import BARCODE_LENGTH, DESCRIPTION_LENGTH, NAME_LENGTH, SIZE_LENGTH, SKU_LENGTH
from schemas.common import UNSTORABLE, PageArgsSchema, page_schema
from schemas.common import Text as StoredText
from schemas.sales import MAX_INT, MAX_LINE_QUANTITY, MAX_MONEY, MAX_SIZES, Code, Id, Text, _clean_text, _decimal
from services.imports.columns import OTHER_SIZE_SEPARATORS, SIZES_SEPARATOR
from services.imports.numbers import parse_decimal

FastPath = Callable[[str], object]  # a cell's text -> its value, or None: read it through the field
TRUE = {"1", "true", "yes", "y", "si", "sí", "s", "x", "active", "activo", "on"}
FALSE = {"0", "false", "no", "n", "inactive", "inactivo", "off", ""}


class RowDecimal(fields.Field):
    """A decimal in the file's style, 0 to `maximum`, at most `places` places; `percent` takes `21%` or `21`."""

    def __init__(self, places: int, maximum: Decimal, *, percent: bool = False, **kwargs):
        super().__init__(validate=_decimal(places, maximum), **kwargs)
        self.places, self.maximum, self.percent, self.exponent = places, maximum, percent, Decimal(1).scaleb(-places)

    def fast_path(self, separator: str) -> FastPath:
        """Plain `123.45` (no thousands marks, sign or %), within the places and the maximum (1 for a percent
        field: above it the value is read as a percentage)."""
        digits = len(str(int(self.maximum)))
        match = re.compile(rf"\d{{1,{digits}}}(?:{re.escape(separator)}\d{{1,{self.places}}})?").fullmatch
        limit, exponent, comma = (Decimal(1) if self.percent else self.maximum), self.exponent, separator == ","

        def read(text: str):
            if match(text):
                number = Decimal(text.replace(",", ".") if comma else text)
                if number <= limit:
                    return number.quantize(exponent)
            return None

        return read

    def deserialize(self, *args, **kwargs):
        """Checked as written (too many places is an error), then at the column's places: `10.5` -> `10.50`."""
        number = super().deserialize(*args, **kwargs)
        return number.quantize(self.exponent) if isinstance(number, Decimal) else number

    def _deserialize(self, value, attr, data, **kwargs):
        text = str(value).strip()
        is_percent = self.percent and text.endswith("%")
        try:
            number = parse_decimal(text.rstrip("%"), self.parent.decimal_separator)
        except (ValueError, InvalidOperation) as exc:
            raise ValidationError(f"not a number ({text[:40]!r})") from exc
        if self.percent and (is_percent or number > 1):
            number = (number / 100).normalize()
        return number


class RowBool(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        text = str(value).strip().casefold()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise ValidationError("not yes/no, true/false or 1/0")


class RowSizes(fields.Field):
    """`S|M|L` (as exports write them: then only `|` separates, so `10/12` is one size), or `,` `;` `/`
    between sizes in a cell without `|`."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = str(value).strip()
        parts = text.split(SIZES_SEPARATOR) if SIZES_SEPARATOR in text else OTHER_SIZE_SEPARATORS.split(text)
        sizes = [s.strip() for s in parts if s.strip()]
        if len(sizes) > MAX_SIZES:
            raise ValidationError(f"at most {MAX_SIZES} sizes")
        if any(len(s) > SIZE_LENGTH for s in sizes):
            raise ValidationError(f"a size is at most {SIZE_LENGTH} characters")
        return list(dict.fromkeys(sizes))


class RowInt(fields.Field):
    def __init__(self, low: int, high: int, **kwargs):
        super().__init__(validate=validate.Range(low, high), **kwargs)
        self.low, self.high = low, high

    def fast_path(self, separator: str) -> FastPath:
        """Plain digits, maybe a `-`, within the range."""
        match, low, high = re.compile(r"-?\d{1,18}").fullmatch, self.low, self.high

        def read(text: str):
            if match(text):
                number = int(text)
                if low <= number <= high:
                    return number
            return None

        return read

    def _deserialize(self, value, attr, data, **kwargs):
        text = str(value).strip()
        try:
            number = parse_decimal(text, self.parent.decimal_separator)
        except (ValueError, InvalidOperation) as exc:
            raise ValidationError(f"not a whole number ({text[:40]!r})") from exc
        if number != number.to_integral_value():
            raise ValidationError("not a whole number")
        return int(number)


class RowSchema(Schema):
    """A file row: services/imports/validation.py runs each present cell (stripped; blank is absent)
    through its field; decimals are read with the import's separator."""

    def __init__(self, decimal_separator: str = ".", **kwargs):
        super().__init__(**kwargs)
        self.decimal_separator = decimal_separator

    def fast_paths(self) -> dict[str, FastPath]:
        """Per field (where it has one), a quick reading of the common valid cell, derived from the field's
        own settings (places, range, lengths, pattern): it gives the value the field would, or None for
        anything else, which then goes through the field itself (so errors read the same)."""
        paths = {}
        for name, field in self.fields.items():
            make = getattr(field, "fast_path", None)
            path = make(self.decimal_separator) if make else _string_fast_path(field)
            if path is not None:
                paths[name] = path
        return paths


def _string_fast_path(field) -> FastPath | None:
    """A string field checked by lengths, a pattern and storability only (a Text, a Code)."""
    if not isinstance(field, fields.String) or getattr(field, "normalise", None):
        return None
    low, high, patterns = 0, math.inf, []
    unstorable = UNSTORABLE.search if isinstance(field, StoredText) else None
    for check in field.validators:
        if isinstance(check, validate.Length) and check.equal is None:
            low, high = max(low, check.min or 0), min(high, math.inf if check.max is None else check.max)
        elif isinstance(check, validate.Regexp):
            patterns.append(check.regex.match)
        elif check is _clean_text:  # refuses what UNSTORABLE finds: NUL, a lone surrogate
            unstorable = UNSTORABLE.search
        else:
            return None
    if len(patterns) > 1:
        return None
    pattern = patterns[0] if patterns else None

    def read(text: str):
        if low <= len(text) <= high and (pattern is None or pattern(text)) and not (unstorable and unstorable(text)):
            return text
        return None

    return read


class ProductRowSchema(RowSchema):
    sku = Code(SKU_LENGTH, required=True)
    name = Text(NAME_LENGTH, required=True)
    price = RowDecimal(2, MAX_MONEY, required=True)
    cost = RowDecimal(2, MAX_MONEY)
    tax_rate = RowDecimal(4, Decimal(1), percent=True)
    category = Text(NAME_LENGTH)
    sizes = RowSizes()
    barcode = Code(BARCODE_LENGTH)
    active = RowBool()
    description = Text(DESCRIPTION_LENGTH)
    min_stock = RowInt(0, MAX_INT)


class StockRowSchema(RowSchema):
    sku = Code(SKU_LENGTH, required=True)
    size = Text(SIZE_LENGTH, load_default="")
    quantity = RowInt(-MAX_LINE_QUANTITY, MAX_LINE_QUANTITY, required=True)
    mode = fields.String(load_default="set", validate=validate.OneOf(["set", "add"]))


ROW_SCHEMAS = {"products": ProductRowSchema, "stock": StockRowSchema}


# The API ---------------------------------------------------------------------------------------------

def _known_encoding(value: str) -> None:
    try:
        codecs.lookup(value)
    except LookupError as exc:
        raise ValidationError("not an encoding Python knows (utf-8, utf-16, cp1252, latin-1, ...)") from exc


class ImportUploadSchema(Schema):
    """The form fields beside the file."""

    kind = fields.String(required=True, validate=validate.OneOf(["products", "stock"]))
    branch_id = Id(strict=False, load_default=None)
    mode = fields.String(load_default="preview", validate=validate.OneOf(["preview", "apply"]))
    on_existing = fields.String(load_default="update", validate=validate.OneOf(["update", "skip"]))
    atomic = fields.Boolean(load_default=False)
    create_categories = fields.Boolean(load_default=True)
    encoding = fields.String(load_default=None, validate=[validate.Length(1, 40), _known_encoding])
    delimiter = fields.String(load_default=None, validate=validate.OneOf([",", ";", "\t", "|", "tab"]))
    decimal_separator = fields.String(load_default=None, validate=validate.OneOf([".", ","]))
    sheet = Text(100, load_default=None)

    @validates_schema
    def branch_for_stock(self, data: dict, **kwargs) -> None:
        if data.get("kind") == "stock" and data.get("branch_id") is None:
            raise ValidationError("a stock import needs the branch it counts", "branch_id")


class ImportSchema(Schema):
    id = fields.UUID(dump_only=True)
    owner_id = fields.Integer(dump_only=True)
    kind = fields.String()
    branch_id = fields.Integer(allow_none=True)
    file_name = fields.String(metadata={"maxLength": FILE_NAME_LENGTH})
    size_bytes = fields.Integer()
    options = fields.Dict()
    mode = fields.String()
    status = fields.String(metadata={"description": "the latest run's job status"})
    job_id = fields.UUID()
    progress = fields.Dict(allow_none=True)
    error = fields.Dict(allow_none=True, metadata={"description": "why the latest run failed"})
    columns = fields.Dict(allow_none=True)
    unknown_columns = fields.List(fields.String(), allow_none=True)
    counts = fields.Dict()
    samples = fields.Dict()
    preview_counts = fields.Dict(allow_none=True)
    differs_from_preview = fields.Dict(allow_none=True,
                                       metadata={"description": "{outcome: {preview, apply}} where they differ"})
    rows_read = fields.Integer()
    duration_seconds = fields.Float(allow_none=True)
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class ImportListArgsSchema(PageArgsSchema):
    kind = fields.String(load_default=None, validate=validate.OneOf(["products", "stock"]))


ImportPageSchema = page_schema(ImportSchema, "ImportPage")
