"""Wallets, transfers, charges, refunds, adjustments and the payment webhook."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from models import TransferKind
from schemas.common import BoundedInt, Int32Id, Int64Id, PageArgsSchema, Text, page_schema

MAX_CREDITS = 10**12  # far beyond any real wallet, far within BIGINT


def Credits(**kwargs):
    """A whole number of credits: strict (no floats, strings or booleans), positive, bounded."""
    return BoundedInt(1, MAX_CREDITS, **kwargs)


class WalletSchema(Schema):
    balance = fields.Integer()
    available = fields.Integer()
    held = fields.Integer()
    granted = fields.Integer()
    purchased = fields.Integer()
    currency = fields.String(metadata={"example": "credits"})


class TransferSchema(Schema):
    id = fields.Integer()
    kind = fields.Enum(TransferKind, by_value=True)
    status = fields.String(attribute="status.value")
    amount = fields.Integer()
    debit_account_id = fields.Integer()
    credit_account_id = fields.Integer()
    reference_id = fields.Integer(allow_none=True)
    job_id = fields.UUID(allow_none=True)
    description = fields.String(allow_none=True)
    created_at = fields.DateTime()


TransferPageSchema = page_schema(TransferSchema, "TransferPage")


class TransferListArgsSchema(PageArgsSchema):
    kind = fields.Enum(TransferKind, by_value=True, load_default=None)


class ChargeSchema(Schema):
    amount = Credits(required=True)
    description = Text(500, load_default=None)
    reference = Text(255, load_default=None)


class AdjustmentSchema(Schema):
    amount = BoundedInt(-MAX_CREDITS, MAX_CREDITS, required=True, metadata={"description": "signed; not zero"},
                        validate=[validate.NoneOf([0], error="must not be zero")])
    reason = Text(500, min_length=1, required=True)


class RefundSchema(Schema):
    transfer_id = Int64Id(required=True)
    amount = Credits(required=True)


class PaymentDataSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # providers add fields; we read only ours

    user_id = Int32Id(required=True)
    amount = Credits(required=True)


class PaymentEventSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = Text(200, min_length=1, required=True)
    type = Text(100, min_length=1, required=True)
    data = fields.Dict(required=True, metadata={"description": 'a top-up: {"user_id", "amount"} (payment.succeeded); '
                                                               'a purchase: {"purchase_id", "amount", "currency"} '
                                                               '(payment.succeeded, payment.failed, payment.refunded)'})


class IgnoredEventSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ignored"})
    type = fields.String(required=True, metadata={"example": "payment.refunded"})
