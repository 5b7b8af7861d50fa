"""Feature flags (maintenance mode)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate


def _storable_text(value: str) -> None:
    """No NUL (PostgreSQL refuses it) and no lone surrogate (not encodable): refused at the door."""
    if "\x00" in value:
        raise ValidationError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError("must be valid Unicode text") from exc


class SetFlagSchema(Schema):
    enabled = fields.Boolean(required=True, truthy={True}, falsy={False})
    message = fields.String(load_default="", validate=[validate.Length(max=500), _storable_text],
                            metadata={"example": "Upgrading the database; back by 14:30 UTC"})


class FlagSchema(Schema):
    name = fields.String()
    enabled = fields.Boolean()
    message = fields.String()
    updated_at = fields.DateTime(allow_none=True)
    updated_by = fields.Integer(allow_none=True)
