"""Market products, purchases, and the payment events that name a purchase."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from models import ProductKind, PurchaseStatus
from schemas.billing import Credits
from schemas.common import Int32Id, Text, page_schema
from schemas.sales import Money

# ISO 4217's form: three capital letters (EUR, USD, JPY).
CURRENCY = validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO 4217 code such as EUR")


def Currency(**kwargs) -> fields.String:
    return fields.String(validate=CURRENCY, metadata={"example": "EUR"}, **kwargs)


class MarketProductSchema(Schema):
    id = fields.Integer()
    kind = fields.Enum(ProductKind, by_value=True)
    name = fields.String()
    credits = fields.Integer(allow_none=True, metadata={"description": "packs: the credits bought"})
    tier_id = fields.Integer(allow_none=True, metadata={"description": "tier products: the tier, per period"})
    price = Money()
    currency = Currency()
    active = fields.Boolean()
    created_at = fields.DateTime()


class MarketProductListSchema(Schema):
    items = fields.List(fields.Nested(MarketProductSchema))


class MarketProductCreateSchema(Schema):
    kind = fields.Enum(ProductKind, by_value=True, required=True)
    name = Text(100, min_length=1, required=True)
    credits = Credits(load_default=None, metadata={"description": "packs only"})
    tier_id = Int32Id(load_default=None, metadata={"description": "tier products only"})
    price = Money(required=True)
    currency = Currency(required=True)
    active = fields.Boolean(load_default=True)


class MarketProductUpdateSchema(Schema):
    name = Text(100, min_length=1)
    price = Money()
    currency = Currency()
    active = fields.Boolean()


class PurchaseCreateSchema(Schema):
    product_id = Int32Id(required=True)


class PurchaseSchema(Schema):
    id = fields.Integer()
    product_id = fields.Integer()
    kind = fields.Enum(ProductKind, by_value=True)
    status = fields.Enum(PurchaseStatus, by_value=True)
    amount = Money()
    currency = Currency()
    credits = fields.Integer(allow_none=True)
    tier_id = fields.Integer(allow_none=True)
    refund_taken = fields.Integer(allow_none=True, metadata={"description": "a refunded pack: credits taken back"})
    refund_not_taken = fields.Integer(allow_none=True,
                                      metadata={"description": "a refunded pack: credits already spent, not taken"})
    created_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    failed_at = fields.DateTime(allow_none=True)
    refunded_at = fields.DateTime(allow_none=True)


PurchasePageSchema = page_schema(PurchaseSchema, "PurchasePage")


class PurchaseEventDataSchema(Schema):
    """A payment event's `data` that names a purchase; `payment.succeeded` also says what was paid."""

    class Meta:
        unknown = EXCLUDE

    purchase_id = Int32Id(required=True)
    amount = Money(load_default=None)
    currency = Currency(load_default=None)
