"""Users' API keys."""

from __future__ import annotations

from marshmallow import Schema, fields

from schemas.common import Text, page_schema


class CreateApiKeySchema(Schema):
    name = Text(100, min_length=1, required=True, normalise=str.strip)


class ApiKeySchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)
    prefix = fields.String(dump_only=True, metadata={"description": "the key's first characters, to tell keys apart"})
    created_at = fields.DateTime(dump_only=True)
    last_used_at = fields.DateTime(dump_only=True, allow_none=True,
                                   metadata={"description": "recorded at most once a minute"})
    revoked_at = fields.DateTime(dump_only=True, allow_none=True, metadata={"description": "null: the key works"})


class CreatedApiKeySchema(ApiKeySchema):
    key = fields.String(dump_only=True, metadata={"description": "the key itself: shown this once, never again"})


ApiKeyPageSchema = page_schema(ApiKeySchema, "ApiKeyPage")
