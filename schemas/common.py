"""Shapes every domain shares: the error envelope, list paging."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.pagination import MAX_LIMIT


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"example": "validation_error"})
    message = fields.String(required=True)
    details = fields.Dict(required=True)


class ErrorEnvelopeSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


class PageArgsSchema(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, MAX_LIMIT))
    cursor = fields.String(load_default=None, validate=validate.Length(max=512))


def page_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """`{"items": [...], "next_cursor": ...}` around `item_schema`."""
    return Schema.from_dict(
        {"items": fields.List(fields.Nested(item_schema), required=True),
         "next_cursor": fields.String(allow_none=True, required=True)},
        name=name,
    )
