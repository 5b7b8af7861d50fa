"""Customers, sales, offline batches, cancellations and invoices: validated at the door against their
columns (shared fields of schemas/common.py, money of schemas/sales.py), so that nothing a client sends
fails in the database."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from models import DocumentKind, PaymentMethod, SaleStatus
from models.customers import EMAIL_LENGTH, PHONE_LENGTH, TAX_ID_LENGTH
from models.point_of_sale import CLIENT_SALE_ID_LENGTH, REASON_LENGTH, TERMINAL_LENGTH
from models.sales import NAME_LENGTH, SIZE_LENGTH, SKU_LENGTH
from schemas.common import BoundedInt, Int32Id, PageArgsSchema, Text, page_schema
from schemas.sales import Id, Money

MAX_SALE_LINES = 200
MAX_PAYMENTS = 10
MAX_BATCH = 1000
MAX_LINE_QUANTITY = 1_000_000


# Customers --------------------------------------------------------------------------------------

class CustomerSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Text(NAME_LENGTH, min_length=1, required=True)
    email = Text(EMAIL_LENGTH, load_default=None, allow_none=True, validate=[validate.Email()])
    phone = Text(PHONE_LENGTH, min_length=1, load_default=None, allow_none=True)
    tax_id = Text(TAX_ID_LENGTH, min_length=1, load_default=None, allow_none=True)
    user_id = Int32Id(load_default=None, allow_none=True,
                      metadata={"description": "the user account whose credit wallet pays `credits` payments"})
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class CustomerUpdateSchema(Schema):
    name = Text(NAME_LENGTH, min_length=1)
    email = Text(EMAIL_LENGTH, allow_none=True, validate=[validate.Email()])
    phone = Text(PHONE_LENGTH, min_length=1, allow_none=True)
    tax_id = Text(TAX_ID_LENGTH, min_length=1, allow_none=True)
    user_id = Int32Id(allow_none=True)


class CustomerListArgsSchema(PageArgsSchema):
    q = Text(NAME_LENGTH, min_length=1, load_default=None,
             metadata={"description": "part of the name or email, or the exact tax id or phone"})


CustomerPageSchema = page_schema(CustomerSchema, "CustomerPage")


# Sales ------------------------------------------------------------------------------------------

class SaleLineSchema(Schema):
    product_id = Int32Id(load_default=None)
    sku = Text(SKU_LENGTH, min_length=1, load_default=None)
    size = Text(SIZE_LENGTH, min_length=0, load_default="",
                metadata={"description": 'omit (or "") for a product without sizes'})
    quantity = BoundedInt(1, MAX_LINE_QUANTITY, required=True)
    unit_price = Money(load_default=None)  # the catalogue price when absent

    @validates_schema
    def product_id_or_sku(self, data, **kwargs):
        if (data.get("product_id") is None) == (data.get("sku") is None):
            raise ValidationError("give product_id or sku (one of them)", "product_id")


class PaymentSchema(Schema):
    method = fields.String(required=True, validate=validate.OneOf([m.value for m in PaymentMethod]))
    amount = Money(required=True)

    @validates_schema
    def positive(self, data, **kwargs):
        if data["amount"] <= 0:
            raise ValidationError("must be more than zero", "amount")


class SaleContentSchema(Schema):
    """One sale as a terminal sends it (alone, or in an offline batch)."""

    client_sale_id = Text(CLIENT_SALE_ID_LENGTH, min_length=1, required=True,
                          metadata={"description": "the terminal's own id for the sale: the same id is the same sale"})
    items = fields.List(fields.Nested(SaleLineSchema), required=True, validate=validate.Length(1, MAX_SALE_LINES))
    discount = Money(load_default=Decimal("0"))
    customer_id = Int32Id(load_default=None, allow_none=True)
    payments = fields.List(fields.Nested(PaymentSchema), required=True, validate=validate.Length(1, MAX_PAYMENTS))


class SaleSubmitSchema(SaleContentSchema):
    branch_id = Int32Id(required=True)
    terminal_id = Text(TERMINAL_LENGTH, min_length=1, required=True)


class SaleBatchSchema(Schema):
    branch_id = Int32Id(required=True)
    terminal_id = Text(TERMINAL_LENGTH, min_length=1, required=True)
    sales = fields.List(fields.Nested(SaleContentSchema), required=True, validate=validate.Length(1, MAX_BATCH))


class CancelSchema(Schema):
    reason = Text(REASON_LENGTH, min_length=1, required=True)


class SaleListArgsSchema(PageArgsSchema):
    branch_id = Id(strict=False, load_default=None,
                        metadata={"description": "admins: any branch (all when absent); others: their own"})
    customer_id = Id(strict=False, load_default=None)


class SaleItemSchema(Schema):
    line = fields.Integer()
    product_id = fields.Integer()
    sku = fields.String()
    name = fields.String()
    size = fields.String()
    quantity = fields.Integer()
    unit_price = Money()
    tax_rate = fields.Decimal(as_string=True)
    net = Money()
    tax = Money()
    total = Money()


class SalePaymentSchema(Schema):
    method = fields.Enum(PaymentMethod, by_value=True)
    amount = Money()
    credits = fields.Integer(allow_none=True)


class SaleSchema(Schema):
    id = fields.Integer()
    branch_id = fields.Integer()
    terminal_id = fields.String()
    client_sale_id = fields.String()
    seller_id = fields.Integer(allow_none=True)
    customer_id = fields.Integer(allow_none=True)
    status = fields.Enum(SaleStatus, by_value=True)
    subtotal = Money()
    tax = Money()
    discount = Money()
    total = Money()
    paid = Money()
    change = Money()
    job_id = fields.UUID(allow_none=True)
    invoice_id = fields.Integer(allow_none=True)
    credit_note_id = fields.Integer(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    items = fields.List(fields.Nested(SaleItemSchema))
    payments = fields.List(fields.Nested(SalePaymentSchema))


class SaleSummarySchema(Schema):
    id = fields.Integer()
    branch_id = fields.Integer()
    terminal_id = fields.String()
    client_sale_id = fields.String()
    customer_id = fields.Integer(allow_none=True)
    status = fields.Enum(SaleStatus, by_value=True)
    total = Money()
    created_at = fields.DateTime()


SalePageSchema = page_schema(SaleSummarySchema, "SalePage")


class InvoiceSchema(Schema):
    id = fields.Integer()
    kind = fields.Enum(DocumentKind, by_value=True)
    number = fields.String(metadata={"example": "B01-2026-000123"})
    branch_id = fields.Integer()
    year = fields.Integer()
    sequence = fields.Integer()
    sale_id = fields.Integer()
    credited_invoice_id = fields.Integer(allow_none=True)
    seller = fields.Dict()
    customer = fields.Dict(allow_none=True)
    lines = fields.List(fields.Dict())
    tax_summary = fields.List(fields.Dict())
    totals = fields.Dict()
    payments = fields.List(fields.Dict())
    reason = fields.String(allow_none=True)
    created_at = fields.DateTime()


InvoicePageSchema = page_schema(InvoiceSchema, "InvoicePage")
