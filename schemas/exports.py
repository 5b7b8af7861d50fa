"""Exports: what to export (kind, format, the kind's filters), and the export as the API shows it."""

from __future__ import annotations

from datetime import date

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from models import ExportFormat, ExportKind
from schemas.common import PageArgsSchema, page_schema
from schemas.sales import Id

# Days a branch's clock can name without leaving the calendar once turned into UTC.
DAYS = validate.Range(date(1970, 1, 1), date(9998, 12, 31))


class ProductFiltersSchema(Schema):
    category_id = Id(load_default=None, allow_none=True)
    active = fields.Boolean(load_default=None, allow_none=True)


class StockFiltersSchema(Schema):
    branch_id = Id(load_default=None, allow_none=True,
                   metadata={"description": "admins: any branch (all when absent); others: their own"})


class SalesFiltersSchema(StockFiltersSchema):
    first = fields.Date(data_key="from", load_default=None, allow_none=True, validate=DAYS)
    last = fields.Date(data_key="to", load_default=None, allow_none=True, validate=DAYS)

    @validates_schema
    def ordered(self, data, **kwargs):
        if data["first"] and data["last"] and data["first"] > data["last"]:
            raise ValidationError("from is after to", "from")

    @post_load
    def as_json(self, data, **kwargs):
        """Stored in the job's payload: days as ISO text, under the names the client used."""
        first, last = data.pop("first"), data.pop("last")
        return {**data, "from": first and first.isoformat(), "to": last and last.isoformat()}


FILTERS = {ExportKind.products: ProductFiltersSchema, ExportKind.stock: StockFiltersSchema,
           ExportKind.sales: SalesFiltersSchema}


class ExportRequestSchema(Schema):
    kind = fields.Enum(ExportKind, by_value=True, required=True)
    format = fields.Enum(ExportFormat, by_value=True, load_default=ExportFormat.csv)
    filters = fields.Dict(keys=fields.String(), load_default=dict, metadata={"description": (
        "products: `category_id`, `active`; stock: `branch_id`; sales: `branch_id`, `from`, `to` "
        "(days, both included, in each branch's time zone)")})

    @post_load
    def kind_filters(self, data, **kwargs):
        try:
            data["filters"] = FILTERS[data["kind"]]().load(data["filters"])
        except ValidationError as exc:
            raise ValidationError(exc.messages, "filters") from exc
        return data


class ExportListArgsSchema(PageArgsSchema):
    kind = fields.Enum(ExportKind, by_value=True, load_default=None)


class ExportProgressSchema(Schema):
    done = fields.Integer()
    total = fields.Integer(allow_none=True)


class ExportSchema(Schema):
    id = fields.UUID(metadata={"description": "also its job's id"})
    owner_id = fields.Integer()
    kind = fields.Enum(ExportKind, by_value=True)
    format = fields.Enum(ExportFormat, by_value=True)
    filters = fields.Dict()
    status = fields.String(metadata={"description": "queued, running, ready, failed, cancelled or expired"})
    progress = fields.Nested(ExportProgressSchema, allow_none=True)
    error = fields.Dict(allow_none=True)
    filename = fields.String()
    rows = fields.Integer(allow_none=True)
    size = fields.Integer(allow_none=True, metadata={"description": "bytes"})
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)


ExportPageSchema = page_schema(ExportSchema, "ExportPage")
