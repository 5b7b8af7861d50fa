"""Orders: placed, confirmed with payments, listed; validated at the door against their columns."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, fields, validate

from models import OrderChannel, OrderStatus
from models.orders import CLIENT_ORDER_ID_LENGTH
from schemas.common import Int32Id, PageArgsSchema, Text, page_schema
from schemas.point_of_sale import MAX_PAYMENTS, MAX_SALE_LINES, PaymentSchema, SaleLineSchema
from schemas.sales import Id, Money


class OrderSubmitSchema(Schema):
    branch_id = Int32Id(required=True)
    channel = fields.String(required=True, validate=validate.OneOf([c.value for c in OrderChannel]))
    client_order_id = Text(CLIENT_ORDER_ID_LENGTH, min_length=1, required=True,
                           metadata={"description": "the channel's id for the order: the same id is the same order"})
    customer_id = Int32Id(load_default=None, allow_none=True)
    items = fields.List(fields.Nested(SaleLineSchema), required=True, validate=validate.Length(1, MAX_SALE_LINES))
    discount = Money(load_default=Decimal("0"))


class ConfirmOrderSchema(Schema):
    payments = fields.List(fields.Nested(PaymentSchema), required=True, validate=validate.Length(1, MAX_PAYMENTS))


class OrderListArgsSchema(PageArgsSchema):
    branch_id = Id(strict=False, load_default=None,
                   metadata={"description": "admins: any branch (all when absent); others: their own"})
    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in OrderStatus]))
    customer_id = Id(strict=False, load_default=None)


class OrderItemSchema(Schema):
    line = fields.Integer()
    product_id = fields.Integer()
    size = fields.String()
    quantity = fields.Integer()
    unit_price = Money()


class OrderSummarySchema(Schema):
    id = fields.Integer()
    branch_id = fields.Integer()
    channel = fields.Enum(OrderChannel, by_value=True)
    client_order_id = fields.String()
    customer_id = fields.Integer(allow_none=True)
    created_by = fields.Integer(allow_none=True)
    status = fields.Enum(OrderStatus, by_value=True)
    subtotal = Money()
    tax = Money()
    discount = Money()
    total = Money()
    sale_id = fields.Integer(allow_none=True)
    job_id = fields.UUID(allow_none=True)
    created_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class OrderSchema(OrderSummarySchema):
    items = fields.List(fields.Nested(OrderItemSchema))


OrderPageSchema = page_schema(OrderSummarySchema, "OrderPage")
