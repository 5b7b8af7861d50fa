"""Branches, categories, products, stock, adjustments and transfers: validated at the door against
the columns they land in (lengths, NUMERIC precision, INTEGER range), so the database never refuses them."""

from __future__ import annotations

import zoneinfo
from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from models import MovementReason
from models.sales import (ADDRESS_LENGTH, BARCODE_LENGTH, CODE_LENGTH, DESCRIPTION_LENGTH, NAME_LENGTH, NOTE_LENGTH,
                          SIZE_LENGTH, SKU_LENGTH, TIMEZONE_LENGTH)
from schemas.common import PageArgsSchema, page_schema

MAX_INT = 2**31 - 1  # an INTEGER column's largest value
MAX_LINE_QUANTITY = 1_000_000  # one line of an adjustment or transfer; well inside INTEGER
MAX_LINES = 500
MAX_SIZES = 50
MAX_MONEY = Decimal("9999999999.99")  # NUMERIC(12,2)
VISIBLE_ASCII = r"^[\x21-\x7e]+$"


def _clean_text(value: str) -> None:
    """No NUL (PostgreSQL refuses it) and no lone surrogate (not UTF-8 at all)."""
    if "\x00" in value:
        raise ValidationError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError("must be valid Unicode text") from exc


def Text(max_length: int, *, min_length: int = 1, **kwargs):
    return fields.String(validate=[validate.Length(min_length, max_length), _clean_text], **kwargs)


def Code(max_length: int, **kwargs):
    """Visible ASCII, no spaces: SKUs, barcodes, branch codes."""
    return fields.String(validate=[validate.Length(1, max_length), validate.Regexp(VISIBLE_ASCII)], **kwargs)


def Id(*, strict: bool = True, **kwargs):
    """A row's id; `strict=False` for query strings, where every value is text."""
    return fields.Integer(strict=strict, validate=validate.Range(1, MAX_INT), **kwargs)


def _decimal(places: int, maximum: Decimal):
    """0 <= value <= maximum, with at most `places` decimal places (a custom check: apispec would
    print Range's Decimal bounds as strings where OpenAPI wants numbers)."""

    def check(value: Decimal) -> None:
        if not Decimal(0) <= value <= maximum:
            raise ValidationError(f"must be between 0 and {maximum}")
        if value.as_tuple().exponent < -places:
            raise ValidationError(f"at most {places} decimal places")

    return check


class FixedDecimal(fields.Decimal):
    """Loads a decimal as given, a JSON string or number (so that too many places are refused, not
    rounded away); dumps it as a string with exactly the column's places, whether it came from the
    database or from a request."""

    def __init__(self, places: int, maximum: Decimal, example: str, **kwargs):
        pattern = rf"^\d+(\.\d{{1,{places}}})?$"
        super().__init__(as_string=True, validate=_decimal(places, maximum), **kwargs,
                         metadata={"type": "string", "format": "decimal", "pattern": pattern, "example": example,
                                   "description": f"a decimal string, 0 to {maximum}, at most {places} places "
                                                  "(a JSON number is taken too)"})
        self.exponent = Decimal(1).scaleb(-places)

    def _serialize(self, value, attr, obj, **kwargs):
        return super()._serialize(None if value is None else Decimal(value).quantize(self.exponent), attr, obj,
                                  **kwargs)


def Money(**kwargs):
    """A price or cost: NUMERIC(12,2)."""
    return FixedDecimal(2, MAX_MONEY, "19.99", **kwargs)


def TaxRate(**kwargs):
    """A fraction, 0 to 1: NUMERIC(5,4)."""
    return FixedDecimal(4, Decimal(1), "0.21", **kwargs)


def _known_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError("not an IANA time zone name (such as Europe/Madrid)")


# Branches ---------------------------------------------------------------------------------------

class BranchSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Text(NAME_LENGTH, required=True)
    code = Code(CODE_LENGTH, required=True, metadata={"example": "B01"})
    address = Text(ADDRESS_LENGTH, min_length=0, load_default=None, allow_none=True)
    timezone = fields.String(load_default="UTC", validate=[validate.Length(1, TIMEZONE_LENGTH), _known_timezone])
    active = fields.Boolean(load_default=True)
    created_at = fields.DateTime(dump_only=True)


class BranchUpdateSchema(Schema):
    name = Text(NAME_LENGTH)
    code = Code(CODE_LENGTH)
    address = Text(ADDRESS_LENGTH, min_length=0, allow_none=True)
    timezone = fields.String(validate=[validate.Length(1, TIMEZONE_LENGTH), _known_timezone])
    active = fields.Boolean()


class ActiveFilterSchema(PageArgsSchema):
    active = fields.Boolean(load_default=None)


BranchPageSchema = page_schema(BranchSchema, "BranchPage")


# Categories -------------------------------------------------------------------------------------

class CategorySchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Text(NAME_LENGTH, required=True)
    parent_id = Id(load_default=None, allow_none=True)
    active = fields.Boolean(load_default=True)
    created_at = fields.DateTime(dump_only=True)


class CategoryUpdateSchema(Schema):
    name = Text(NAME_LENGTH)
    parent_id = Id(allow_none=True)
    active = fields.Boolean()


class CategoryListArgsSchema(ActiveFilterSchema):
    parent_id = Id(strict=False, load_default=None)


CategoryPageSchema = page_schema(CategorySchema, "CategoryPage")


# Products ---------------------------------------------------------------------------------------

Sizes = fields.List(Text(SIZE_LENGTH), validate=validate.Length(max=MAX_SIZES),
                    metadata={"example": ["S", "M", "L"]})


def _check_sizes(data: dict, *, partial: bool) -> None:
    """Sizes are required (distinct, at least one) iff the product has sizes."""
    sizes = data.get("sizes")
    if sizes is not None and len(set(sizes)) != len(sizes):
        raise ValidationError("sizes must be distinct", "sizes")
    if partial and "has_sizes" not in data:
        return  # checked against the stored product by the service
    if data.get("has_sizes") and not sizes:
        raise ValidationError("a product with sizes needs its list of sizes", "sizes")
    if not data.get("has_sizes") and sizes:
        raise ValidationError("only a product with has_sizes=true has sizes", "sizes")


class ProductSchema(Schema):
    id = fields.Integer(dump_only=True)
    sku = Code(SKU_LENGTH, required=True)
    barcode = Code(BARCODE_LENGTH, load_default=None, allow_none=True)
    name = Text(NAME_LENGTH, required=True)
    description = Text(DESCRIPTION_LENGTH, min_length=0, load_default=None, allow_none=True)
    category_id = Id(load_default=None, allow_none=True)
    price = Money(required=True)
    cost = Money(load_default=Decimal("0.00"))
    tax_rate = TaxRate(load_default=Decimal("0"))
    has_sizes = fields.Boolean(load_default=False)
    sizes = Sizes
    min_stock = fields.Integer(strict=True, load_default=0, validate=validate.Range(0, MAX_INT))
    active = fields.Boolean(load_default=True)
    created_at = fields.DateTime(dump_only=True)

    @validates_schema
    def sizes_iff_has_sizes(self, data, **kwargs):
        _check_sizes(data, partial=False)
        data.setdefault("sizes", [])


class ProductUpdateSchema(Schema):
    sku = Code(SKU_LENGTH)
    barcode = Code(BARCODE_LENGTH, allow_none=True)
    name = Text(NAME_LENGTH)
    description = Text(DESCRIPTION_LENGTH, min_length=0, allow_none=True)
    category_id = Id(allow_none=True)
    price = Money()
    cost = Money()
    tax_rate = TaxRate()
    has_sizes = fields.Boolean()
    sizes = Sizes
    min_stock = fields.Integer(strict=True, validate=validate.Range(0, MAX_INT))
    active = fields.Boolean()

    @validates_schema
    def sizes_iff_has_sizes(self, data, **kwargs):
        _check_sizes(data, partial=True)


class ProductListArgsSchema(ActiveFilterSchema):
    q = Text(NAME_LENGTH, load_default=None, metadata={"description": "part of the name, or the SKU or barcode"})
    category_id = Id(strict=False, load_default=None)


ProductPageSchema = page_schema(ProductSchema, "ProductPage")


# Stock ------------------------------------------------------------------------------------------

class StockSchema(Schema):
    product_id = fields.Integer()
    branch_id = fields.Integer()
    size = fields.String(metadata={"description": '"" for a product without sizes'})
    quantity = fields.Integer()
    reserved = fields.Integer()
    available = fields.Function(lambda row: row.quantity - row.reserved)
    updated_at = fields.DateTime()


class StockListArgsSchema(PageArgsSchema):
    product_id = Id(strict=False, load_default=None)


StockPageSchema = page_schema(StockSchema, "StockPage")


class StockLineSchema(Schema):
    product_id = Id(required=True)
    size = fields.String(load_default="", validate=[validate.Length(max=SIZE_LENGTH), _clean_text],
                         metadata={"description": 'omit (or "") for a product without sizes'})


class AdjustmentLineSchema(StockLineSchema):
    quantity = fields.Integer(strict=True, required=True, metadata={"description": "signed; not zero"},
                              validate=[validate.Range(-MAX_LINE_QUANTITY, MAX_LINE_QUANTITY),
                                        validate.NoneOf([0], error="must not be zero")])


class TransferLineSchema(StockLineSchema):
    quantity = fields.Integer(strict=True, required=True, validate=validate.Range(1, MAX_LINE_QUANTITY))


def _distinct_lines(items: list[dict]) -> None:
    seen = set()
    for index, item in enumerate(items):
        key = (item["product_id"], item["size"])
        if key in seen:
            raise ValidationError({index: ["the same product and size appears twice"]}, "items")
        seen.add(key)


class StockAdjustmentSchema(Schema):
    items = fields.List(fields.Nested(AdjustmentLineSchema), required=True, validate=validate.Length(1, MAX_LINES))
    reason = Text(NOTE_LENGTH, required=True)

    @validates_schema
    def distinct(self, data, **kwargs):
        _distinct_lines(data["items"])


class StockTransferSchema(Schema):
    from_branch_id = Id(required=True)
    to_branch_id = Id(required=True)
    items = fields.List(fields.Nested(TransferLineSchema), required=True, validate=validate.Length(1, MAX_LINES))
    note = Text(NOTE_LENGTH, load_default=None, allow_none=True)

    @validates_schema
    def two_branches_distinct_lines(self, data, **kwargs):
        if data["from_branch_id"] == data["to_branch_id"]:
            raise ValidationError("a transfer goes between two different branches", "to_branch_id")
        _distinct_lines(data["items"])


class MovementSchema(Schema):
    id = fields.Integer()
    product_id = fields.Integer()
    branch_id = fields.Integer()
    size = fields.String()
    quantity = fields.Integer()
    reason = fields.Enum(MovementReason, by_value=True)
    reference = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    user_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


MovementPageSchema = page_schema(MovementSchema, "MovementPage")
