"""Users, tokens and sessions."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from models import Role
from services.auth import EMAIL_MAX_LENGTH, normalise_email


class NormalisedEmail(fields.Email):
    """An email as stored: NFKC and case-folded before it is checked (length included, since case
    folding can lengthen it: 'İ' becomes two characters)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return normalise_email(super()._deserialize(value, attr, data, **kwargs))


def Email(**kwargs):
    return NormalisedEmail(validate=validate.Length(max=EMAIL_MAX_LENGTH), **kwargs)


def Password(**kwargs):
    return fields.String(load_only=True, validate=validate.Length(min=8, max=128), **kwargs)


class RegisterSchema(Schema):
    email = Email(required=True)
    password = Password(required=True)


class LoginSchema(Schema):
    email = Email(required=True)
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=128))


class CreateUserSchema(RegisterSchema):
    role = fields.Enum(Role, by_value=True, required=True)
    branch_id = fields.Integer(strict=True, load_default=None, allow_none=True, validate=validate.Range(1, 2**31 - 1))


class UpdateUserSchema(Schema):
    """An admin's change of a user's role or branch (either or both)."""

    role = fields.Enum(Role, by_value=True)
    branch_id = fields.Integer(strict=True, allow_none=True, validate=validate.Range(1, 2**31 - 1))

    @validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ValidationError("give role, branch_id or both")


class UpdateMeSchema(Schema):
    """A new email, a new password (with the current one), or both."""

    email = Email()
    password = Password()
    current_password = fields.String(load_only=True, validate=validate.Length(max=128))

    @validates_schema
    def _consistent(self, data, **kwargs):
        if not data.keys() & {"email", "password"}:
            raise ValidationError("give email, password or both")
        if "password" in data and "current_password" not in data:
            raise ValidationError("required to change the password", field_name="current_password")


class RefreshSchema(Schema):
    refresh_token = fields.String(required=True, load_only=True, validate=validate.Length(1, 200))


class OidcSignInSchema(Schema):
    id_token = fields.String(required=True, load_only=True, validate=validate.Length(1, 16_384))


class UserSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    role = fields.Enum(Role, by_value=True)
    branch_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    deleted_at = fields.DateTime(allow_none=True)


class AccessTokenSchema(Schema):
    access_token = fields.String()
    token_type = fields.String(metadata={"example": "Bearer"})
    expires_in = fields.Integer(metadata={"description": "seconds"})


class TokenSchema(AccessTokenSchema):
    refresh_token = fields.String(metadata={"description": "for POST /api/v1/auth/refresh; used once"})
    refresh_expires_in = fields.Integer(metadata={"description": "seconds"})


class RegisteredSchema(TokenSchema):
    user = fields.Nested(UserSchema)
    signup_bonus_granted = fields.Boolean(metadata={
        "description": "false when this address has had its signup bonuses for today"})


class ProfileUpdatedSchema(UserSchema):
    """The user; after a password change also a new access token (every earlier one is refused)."""

    access_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
