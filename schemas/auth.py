"""Users and tokens."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from models import Role

Email = fields.Email(required=True, validate=validate.Length(max=254))
Password = fields.String(required=True, load_only=True, validate=validate.Length(min=8, max=128))


class RegisterSchema(Schema):
    email = Email
    password = Password


class LoginSchema(Schema):
    email = Email
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=128))


class CreateUserSchema(RegisterSchema):
    role = fields.Enum(Role, by_value=True, required=True)
    branch_id = fields.Integer(strict=True, load_default=None, allow_none=True, validate=validate.Range(1, 2**31 - 1))


class UserSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    role = fields.Enum(Role, by_value=True)
    branch_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class TokenSchema(Schema):
    access_token = fields.String()
    token_type = fields.String(metadata={"example": "Bearer"})
    expires_in = fields.Integer(metadata={"description": "seconds"})


class RegisteredSchema(TokenSchema):
    user = fields.Nested(UserSchema)
