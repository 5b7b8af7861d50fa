"""Users, tokens and sessions."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from models import Role
from schemas.common import Int32Id, Text
from services.auth import EMAIL_MAX_LENGTH, normalise_email


class NormalisedEmail(Text):
    """An email as stored: NFKC and case-folded before it is checked (length included, since case
    folding can lengthen it: 'İ' becomes two characters)."""

    def __init__(self, **kwargs):
        super().__init__(EMAIL_MAX_LENGTH, normalise=normalise_email, validate=[validate.Email()], **kwargs)
        self.metadata.setdefault("format", "email")


def Email(**kwargs):
    return NormalisedEmail(**kwargs)


def Password(**kwargs):
    return Text(128, min_length=8, load_only=True, **kwargs)


class RegisterSchema(Schema):
    email = Email(required=True)
    password = Password(required=True)


class LoginSchema(Schema):
    email = Email(required=True)
    password = Text(128, required=True, load_only=True)


class CreateUserSchema(RegisterSchema):
    role = fields.Enum(Role, by_value=True, required=True)
    branch_id = Int32Id(load_default=None, allow_none=True)


class UpdateUserSchema(Schema):
    """An admin's change of a user's role or branch (either or both)."""

    role = fields.Enum(Role, by_value=True)
    branch_id = Int32Id(allow_none=True)

    @validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ValidationError("give role, branch_id or both")


class UpdateMeSchema(Schema):
    """A new email, a new password (with the current one), or both."""

    email = Email()
    password = Password()
    current_password = Text(128, load_only=True)

    @validates_schema
    def _consistent(self, data, **kwargs):
        if not data.keys() & {"email", "password"}:
            raise ValidationError("give email, password or both")
        if "password" in data and "current_password" not in data:
            raise ValidationError("required to change the password", field_name="current_password")


class RefreshSchema(Schema):
    refresh_token = Text(200, min_length=1, required=True, load_only=True)


class OidcSignInSchema(Schema):
    id_token = Text(16_384, min_length=1, required=True, load_only=True)


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
