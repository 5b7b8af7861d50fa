"""A sale's money: its content normalised (and fingerprinted), its lines priced, its totals and payments checked.

Decimal everywhere: line net = unit price x quantity; line tax = net x the product's tax rate, rounded
half-up to cents per line; subtotal + tax - discount = total exactly; the payments sum to the total,
except that cash may exceed it (the excess is the change handed back).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Customer, Product
from services.errors import DomainError
from services.sales.stock import check_lines

CENT = Decimal("0.01")
MAX_MONEY = Decimal("9999999999.99")  # NUMERIC(12,2)


def cents(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def normalise(sale: dict) -> dict:
    """The sale's content in one canonical, JSON-able form (amounts as 2-place strings): what a job
    carries, and what the fingerprint is made of."""
    return {"client_sale_id": sale["client_sale_id"], **normalise_lines(sale),
            "payments": normalise_payments(sale["payments"])}


def normalise_lines(content: dict) -> dict:
    """A sale's or an order's customer, discount and lines, canonical."""
    return {
        "customer_id": content.get("customer_id"),
        "discount": str(cents(content.get("discount") or 0)),
        "items": [{"product_id": item.get("product_id"), "sku": item.get("sku"), "size": item.get("size") or "",
                   "quantity": item["quantity"],
                   "unit_price": None if item.get("unit_price") is None else str(cents(item["unit_price"]))}
                  for item in content["items"]],
    }


def normalise_payments(payments: list[dict]) -> list[dict]:
    return [{"method": p["method"], "amount": str(cents(p["amount"]))} for p in payments]


def fingerprint(normalised: dict, id_field: str = "client_sale_id") -> str:
    """The same content sent again has the same fingerprint; the client's id for it is not part of it."""
    content = {k: v for k, v in normalised.items() if k != id_field}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


@dataclass
class Priced:
    lines: list[dict]
    subtotal: Decimal
    tax: Decimal
    discount: Decimal
    total: Decimal
    customer: Customer | None = None
    products: dict[int, Product] = field(default_factory=dict)
    paid: Decimal = Decimal("0.00")
    change: Decimal = Decimal("0.00")
    payments: list[dict] = field(default_factory=list)


def price(session: Session, branch_id: int, sale: dict, *, may_discount: bool, credits_per_unit: int) -> Priced:
    """Price a normalised sale in `branch_id`; raises the first rule it breaks (nothing is written)."""
    priced = price_lines(session, branch_id, sale, may_discount=may_discount)
    priced.paid, priced.change = _check_payments(sale["payments"], priced.total)
    priced.payments = [_payment(p, priced.customer, credits_per_unit) for p in sale["payments"]]
    return priced


def price_lines(session: Session, branch_id: int, content: dict, *, may_discount: bool) -> Priced:
    """Price a normalised sale's or order's lines, discount and customer, without payments."""
    items = _resolve_skus(session, content["items"])
    check_lines(session, [branch_id], items)  # branch active, products known and active, sizes right
    products = {p.id: p for p in session.scalars(select(Product).where(
        Product.id.in_({item["product_id"] for item in items})))}
    lines, below = [], []
    for index, item in enumerate(items):
        product = products[item["product_id"]]
        unit_price = product.price if item["unit_price"] is None else Decimal(item["unit_price"])
        if unit_price < product.price and not may_discount:
            below.append({"line": index, "product_id": product.id, "unit_price": str(unit_price),
                          "minimum": str(product.price)})
        net = unit_price * item["quantity"]
        tax = cents(net * product.tax_rate)
        lines.append({"line": index, "product_id": product.id, "sku": product.sku, "name": product.name,
                      "size": item["size"], "quantity": item["quantity"], "unit_price": unit_price,
                      "tax_rate": product.tax_rate, "net": net, "tax": tax, "total": net + tax})
    if below:
        raise DomainError("a seller may not sell below the catalogue price", code="price_below_minimum",
                          status=403, details={"lines": below})
    subtotal = sum((line["net"] for line in lines), Decimal("0.00"))
    tax = sum((line["tax"] for line in lines), Decimal("0.00"))
    discount = Decimal(content["discount"])
    total = subtotal + tax - discount
    if discount > subtotal + tax:
        raise DomainError("the discount exceeds the sale's amount", code="discount_too_large",
                          details={"discount": str(discount), "amount": str(subtotal + tax)})
    if max(subtotal + tax, max((line["total"] for line in lines), default=0)) > MAX_MONEY:
        raise DomainError("the sale's amount is too large", code="amount_too_large",
                          details={"maximum": str(MAX_MONEY)})
    return Priced(lines, subtotal, tax, discount, total, _customer(session, content.get("customer_id")), products)


def _resolve_skus(session: Session, items: list[dict]) -> list[dict]:
    """Each line by product id; a SKU we do not have leaves its line without one (unknown_product)."""
    skus = {item["sku"] for item in items if item.get("product_id") is None}
    ids = dict(session.execute(select(Product.sku, Product.id).where(Product.sku.in_(skus))).all()) if skus else {}
    return [{**item, "product_id": item["product_id"] if item.get("product_id") is not None else ids.get(item["sku"])}
            for item in items]


def _check_payments(payments: list[dict], total: Decimal) -> tuple[Decimal, Decimal]:
    """(paid, change): the payments cover the total exactly, or cash exceeds it by the change."""
    paid = sum((Decimal(p["amount"]) for p in payments), Decimal("0.00"))
    cash = sum((Decimal(p["amount"]) for p in payments if p["method"] == "cash"), Decimal("0.00"))
    change = paid - total
    if paid > MAX_MONEY:
        raise DomainError("the payments' sum is too large", code="amount_too_large",
                          details={"maximum": str(MAX_MONEY)})
    if change < 0 or change > cash:
        raise DomainError("the payments do not add up to the total", code="payments_mismatch",
                          details={"total": str(total), "paid": str(paid),
                                   "problem": "short" if change < 0 else "only cash may exceed the total"})
    return paid, change


def _customer(session: Session, customer_id: int | None) -> Customer | None:
    if customer_id is None:
        return None
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise DomainError("no such customer", code="customer_not_found", details={"customer_id": customer_id})
    return customer


def _payment(payment: dict, customer: Customer | None, credits_per_unit: int) -> dict:
    amount = Decimal(payment["amount"])
    if payment["method"] != "credits":
        return {"method": payment["method"], "amount": amount, "credits": None}
    if customer is None or customer.user_id is None:
        raise DomainError("a credits payment needs a customer linked to a user account", code="no_credit_wallet",
                          details={"customer_id": customer and customer.id})
    credits = amount * credits_per_unit
    if credits != credits.to_integral_value():
        raise DomainError("a credits payment must come to a whole number of credits", code="credits_not_whole",
                          details={"amount": str(amount), "credits_per_unit": credits_per_unit})
    return {"method": "credits", "amount": amount, "credits": int(credits)}
