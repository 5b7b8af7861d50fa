"""Feature flags (maintenance mode)."""

from __future__ import annotations

from marshmallow import Schema, fields

from schemas.common import Text


class SetFlagSchema(Schema):
    enabled = fields.Boolean(required=True, truthy={True}, falsy={False})
    message = Text(500, load_default="", metadata={"example": "Upgrading the database; back by 14:30 UTC"})


class FlagSchema(Schema):
    name = fields.String()
    enabled = fields.Boolean()
    message = fields.String()
    updated_at = fields.DateTime(allow_none=True)
    updated_by = fields.Integer(allow_none=True)
