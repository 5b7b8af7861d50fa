"""Tiers, subscriptions, and the `subscription.updated` payment event."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates, validates_schema

from models import Period, SubscriptionStatus
from models.base import INT32_MAX
from schemas.billing import MAX_CREDITS
from schemas.common import BoundedInt, Int32Id, Text
from schemas.sales import FixedDecimal

MAX_MULTIPLIER = Decimal("9999.9999")  # NUMERIC(8,4)


class TierSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    credits_per_period = fields.Integer()
    period = fields.Enum(Period, by_value=True)
    rollover = fields.Boolean()
    rollover_cap = fields.Integer(allow_none=True)
    price_multiplier = FixedDecimal(4, MAX_MULTIPLIER, "0.8000")
    requests_per_minute = fields.Integer(allow_none=True)
    tokens_per_minute = fields.Integer(allow_none=True)
    concurrent_jobs = fields.Integer(allow_none=True)
    active = fields.Boolean()


def _limit(**kwargs):
    return BoundedInt(1, INT32_MAX, allow_none=True, **kwargs)


class TierUpdateSchema(Schema):
    """Every field optional; the period is fixed once the tier exists."""

    name = Text(32, min_length=1, validate=[validate.Regexp(r"^[a-z0-9_-]+$")])
    credits_per_period = BoundedInt(0, MAX_CREDITS)
    rollover = fields.Boolean()
    rollover_cap = BoundedInt(0, MAX_CREDITS, allow_none=True, metadata={"description": "None: no cap"})
    price_multiplier = FixedDecimal(4, MAX_MULTIPLIER, "0.8")
    requests_per_minute = _limit(metadata={"description": "None: unlimited"})
    tokens_per_minute = _limit()
    concurrent_jobs = _limit()
    active = fields.Boolean()

    @validates("price_multiplier")
    def _positive(self, value, **kwargs):
        if value <= 0:
            raise ValidationError("must be greater than 0")


class TierCreateSchema(TierUpdateSchema):
    name = Text(32, min_length=1, required=True, validate=[validate.Regexp(r"^[a-z0-9_-]+$")])
    credits_per_period = BoundedInt(0, MAX_CREDITS, required=True)
    period = fields.Enum(Period, by_value=True, required=True)


class SubscriptionSchema(Schema):
    tier = fields.Nested(TierSchema)
    status = fields.String(metadata={"example": "active"})
    anchor_at = fields.DateTime()
    period_start = fields.DateTime()
    period_end = fields.DateTime()
    allowance = fields.Integer(metadata={"description": "credits the tier grants per period"})
    granted_this_period = fields.Integer(metadata={"description": "the period's grant plus any upgrade's"})
    used_this_period = fields.Integer(metadata={"description": "credits charges took since the period started"})
    next_refresh = fields.DateTime(allow_none=True)
    next_tier = fields.Nested(TierSchema, allow_none=True, metadata={"description": "a downgrade waiting"})
    cancelled_at = fields.DateTime(allow_none=True)


class SubscriptionChangeSchema(Schema):
    """A new tier (`tier_id`) or `status: cancelled`; `reference` makes a retry change nothing twice."""

    tier_id = Int32Id()
    status = fields.Enum(SubscriptionStatus, by_value=True, validate=validate.OneOf([SubscriptionStatus.cancelled]))
    reference = Text(200, min_length=1, load_default=None)

    @validates_schema
    def _one_change(self, data, **kwargs):
        if ("tier_id" in data) == ("status" in data):
            raise ValidationError("give either tier_id or status: cancelled", "_schema")


class SubscriptionChangeResultSchema(Schema):
    subscription_id = fields.Integer()
    action = fields.String(metadata={"example": "upgraded"})
    tier_id = fields.Integer()
    granted = fields.Integer()
    effective_at = fields.String()
    grant_expires_at = fields.String()


class SubscriptionEventDataSchema(SubscriptionChangeSchema):
    """`subscription.updated`'s data: the user, and their new tier or their cancellation."""

    class Meta:
        unknown = EXCLUDE

    user_id = Int32Id(required=True)
