"""Usage analytics' query strings and answers."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from models.usage import MEASURES
from schemas.reports import Day, FormatArgsSchema


class UsageArgsSchema(FormatArgsSchema):
    # `from` is a Python keyword: the field is `first`, the query string's name `from`.
    first = Day(data_key="from", metadata={"description": "first UTC day, YYYY-MM-DD"})
    last = Day(data_key="to", metadata={"description": "last UTC day, included"})
    group_by = fields.String(load_default="day", validate=validate.OneOf(["day", "model"]))


class AdminUsageArgsSchema(UsageArgsSchema):
    group_by = fields.String(load_default="day", validate=validate.OneOf(["day", "tier", "user", "model"]))


UsageRowSchema = Schema.from_dict(
    {"day": fields.Date(), "tier": fields.String(), "user_id": fields.Integer(),
     "model": fields.String(metadata={"description": "'' for usage that is not an LLM call"}),
     **{name: fields.Integer() for name in MEASURES}},
    name="UsageRow")


class UsageSchema(Schema):
    group_by = fields.String()
    items = fields.List(fields.Nested(UsageRowSchema),
                        metadata={"description": "one row per group; only the grouped-by key is present"})
