"""Pricing a sale: Decimal per line, rounding half-up, payments that add up, credits in whole numbers,
and the normalised content whose fingerprint says "the same sale"."""

from __future__ import annotations

from decimal import Decimal

import pytest

from models import Branch, Customer, Product, User
from services.errors import DomainError
from services.sales import pricing


@pytest.fixture
def rows(session):
    shop = Branch(name="A", code="A")
    user = User(email="w@example.com", password_hash="x", role="customer")
    session.add_all([shop, user])
    session.flush()
    tea = Product(sku="TEA", name="Tea", price=Decimal("0.05"), tax_rate=Decimal("0.1000"))
    book = Product(sku="BOOK", name="Book", price=Decimal("19.99"), tax_rate=Decimal("0.0400"))
    payer = Customer(name="Payer", user_id=user.id)
    session.add_all([tea, book, payer])
    session.flush()
    return {"branch": shop.id, "tea": tea.id, "book": book.id, "payer": payer.id}


def priced(session, rows, items, payments, *, discount="0", customer_id=None, rate=100, may_discount=False):
    sale = pricing.normalise({"client_sale_id": "c", "items": items, "discount": Decimal(discount),
                              "customer_id": customer_id, "payments": payments})
    return pricing.price(session, rows["branch"], sale, may_discount=may_discount, credits_per_unit=rate)


def test_each_line_is_taxed_and_rounded_half_up_on_its_own(session, rows):
    # Tea: 0.05 x 10 % = 0.005, half-up 0.01 a line; three lines 0.03 (the summed net would give 0.015 -> 0.02).
    lines = [{"product_id": rows["tea"], "quantity": 1}] * 3 + [{"sku": "BOOK", "quantity": 3}]
    got = priced(session, rows, lines, [{"method": "cash", "amount": Decimal("70")}], discount="0.50")
    assert [line["tax"] for line in got.lines] == [Decimal("0.01")] * 3 + [Decimal("2.40")]
    assert (got.subtotal, got.tax, got.discount, got.total) == (
        Decimal("60.12"), Decimal("2.43"), Decimal("0.50"), Decimal("62.05"))
    assert got.subtotal + got.tax - got.discount == got.total
    assert (got.paid, got.change) == (Decimal("70.00"), Decimal("7.95"))


@pytest.mark.parametrize("payments,ok", [
    ([("card", "20.79")], True),
    ([("card", "10.00"), ("cash", "10.79")], True),
    ([("card", "10.00"), ("cash", "50.00")], True),  # change 39.21, all of it from cash
    ([("card", "20.80")], False),  # only cash may exceed the total
    ([("card", "20.00"), ("cash", "0.78")], False),
])
def test_payments_add_up_to_the_total_or_cash_gives_change(session, rows, payments, ok):
    pay = [{"method": m, "amount": Decimal(a)} for m, a in payments]
    if ok:
        assert priced(session, rows, [{"product_id": rows["book"], "quantity": 1}], pay).total == Decimal("20.79")
    else:
        with pytest.raises(DomainError) as raised:
            priced(session, rows, [{"product_id": rows["book"], "quantity": 1}], pay)
        assert raised.value.code == "payments_mismatch"


def test_credits_come_to_a_whole_number_at_the_configured_rate(session, rows):
    pay = [{"method": "credits", "amount": Decimal("0.06")}]
    tea = [{"product_id": rows["tea"], "quantity": 1}]
    assert priced(session, rows, tea, pay, customer_id=rows["payer"]).payments[0]["credits"] == 6
    with pytest.raises(DomainError) as raised:
        priced(session, rows, tea, pay, customer_id=rows["payer"], rate=10)  # 0.6 credits
    assert raised.value.code == "credits_not_whole"


def test_the_fingerprint_ignores_the_client_id_and_how_amounts_are_written():
    one = {"client_sale_id": "a", "items": [{"product_id": 1, "quantity": 2, "unit_price": Decimal("5")}],
           "payments": [{"method": "cash", "amount": Decimal("10")}]}
    same = {**one, "client_sale_id": "b", "discount": Decimal("0.00"),
            "items": [{"product_id": 1, "size": "", "quantity": 2, "unit_price": Decimal("5.00")}]}
    other = {**one, "items": [{"product_id": 1, "quantity": 2}]}  # the catalogue price instead
    fingerprint = pricing.fingerprint
    assert fingerprint(pricing.normalise(one)) == fingerprint(pricing.normalise(same))
    assert fingerprint(pricing.normalise(one)) != fingerprint(pricing.normalise(other))
