"""Reports' query strings and answers: ranges of local days, an optional branch, JSON or CSV."""

from __future__ import annotations

from datetime import date

from marshmallow import Schema, fields, validate

from schemas.sales import Id, Money

FORMATS = ("json", "csv")
# Days a report may name: far from the calendar's ends, where a day's next day does not exist.
DAYS = validate.Range(date(2000, 1, 1), date(2999, 12, 31))


def Day(**kwargs) -> fields.Date:
    return fields.Date(required=True, validate=DAYS, **kwargs)


class FormatArgsSchema(Schema):
    format = fields.String(load_default="json", validate=validate.OneOf(FORMATS))


class BranchArgsSchema(FormatArgsSchema):
    branch_id = Id(strict=False, load_default=None,
                   metadata={"description": "admins: any branch (all when absent); others: their own"})


class DailyArgsSchema(BranchArgsSchema):
    # `from` is a Python keyword: the field is `first`, the query string's name `from`.
    first = Day(data_key="from", metadata={"description": "first local day, YYYY-MM-DD"})
    last = Day(data_key="to", metadata={"description": "last local day, included"})


class DashboardArgsSchema(Schema):
    branch_id = Id(strict=False, load_default=None)


class RebuildSchema(Schema):
    branch_id = Id(load_default=None, allow_none=True, metadata={"description": "every branch when absent"})
    first = Day(data_key="from")
    last = Day(data_key="to")


class TopProductSchema(Schema):
    product_id = fields.Integer()
    sku = fields.String()
    name = fields.String()
    quantity = fields.Integer()
    total = fields.String(metadata={"example": "19.99"})


class DailySummarySchema(Schema):
    branch_id = fields.Integer()
    day = fields.Date()
    timezone = fields.String()
    sales_count = fields.Integer()
    subtotal = Money()
    tax = Money()
    discount = Money()
    total = Money()
    cancelled_count = fields.Integer()
    cancelled_total = Money()
    by_payment = fields.Dict(keys=fields.String(), values=fields.String())
    top_products = fields.List(fields.Nested(TopProductSchema))
    computed_at = fields.DateTime()


class DailyReportSchema(Schema):
    items = fields.List(fields.Nested(DailySummarySchema))


class LowStockRowSchema(Schema):
    branch_id = fields.Integer()
    branch_code = fields.String()
    product_id = fields.Integer()
    sku = fields.String()
    name = fields.String()
    size = fields.String()
    quantity = fields.Integer()
    reserved = fields.Integer()
    min_stock = fields.Integer()
    low_since = fields.DateTime(allow_none=True, metadata={"description": "when the fall was recorded"})


class LowStockReportSchema(Schema):
    items = fields.List(fields.Nested(LowStockRowSchema))


class DashboardSchema(Schema):
    branches = fields.List(fields.Dict())
    top_products = fields.List(fields.Nested(TopProductSchema))
