"""Shapes every domain shares: the error envelope, list paging, and the fields that fit their columns.

Every integer a client sends is checked against its column's range and every string against its
column's length, NUL (which PostgreSQL's text refuses) and unpaired surrogates (which UTF-8 cannot
carry): nothing a client sends reaches the database only to fail there.
"""

from __future__ import annotations

import re
from typing import Callable

from marshmallow import Schema, fields
from marshmallow.validate import Length, Range

from models.base import INT32_MAX, INT64_MAX
from services.pagination import MAX_LIMIT

UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")  # in a Python str, every surrogate is an unpaired one


def BoundedInt(low: int, high: int, *, validate=(), **kwargs) -> fields.Integer:
    """A whole number in [low, high] from a JSON body: strict (no floats, strings or booleans)."""
    return fields.Integer(strict=True, validate=[Range(low, high), *validate], **kwargs)


def Int32Id(**kwargs) -> fields.Integer:
    """The id of a row whose key is an Integer column (users)."""
    return BoundedInt(1, INT32_MAX, **kwargs)


def Int64Id(**kwargs) -> fields.Integer:
    """The id of a row whose key is a BigInteger column (transfers)."""
    return BoundedInt(1, INT64_MAX, **kwargs)


class Text(fields.String):
    """A string its column can store: no NUL, no unpaired surrogate, and `min_length` to `max_length`
    characters after `normalise` (which runs first, so that the length checked is the length stored)."""

    default_error_messages = {"unstorable": "Must not contain NUL or unpaired surrogate characters."}

    def __init__(self, max_length: int, *, min_length: int | None = None,
                 normalise: Callable[[str], str] | None = None, validate=(), **kwargs):
        super().__init__(validate=[Length(min_length, max_length), *validate], **kwargs)
        self.normalise = normalise

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if UNSTORABLE.search(text):
            raise self.make_error("unstorable")
        return self.normalise(text) if self.normalise else text


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"example": "validation_error"})
    message = fields.String(required=True)
    details = fields.Dict(required=True)


class ErrorEnvelopeSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


class PageArgsSchema(Schema):
    limit = fields.Integer(load_default=50, validate=Range(1, MAX_LIMIT))
    cursor = Text(512, load_default=None)


def page_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """`{"items": [...], "next_cursor": ...}` around `item_schema`."""
    return Schema.from_dict(
        {"items": fields.List(fields.Nested(item_schema), required=True),
         "next_cursor": fields.String(allow_none=True, required=True)},
        name=name,
    )
