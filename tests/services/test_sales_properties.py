"""Random sequences of sales, replays, cancellations, orders, stock adjustments and transfers keep every invariant.

Service level (services/sales/*), one transaction per example, rolled back. A model of the stock
(quantities, and the orders whose pending lines make up what is reserved) says what each step must
do; after every step the database must agree with it, and the stock must equal its movements, with
0 <= reserved <= quantity; invoice and credit-note numbers must run 1..n per branch and year, every
sale's money must add up exactly, every confirmed order must have its sale and invoice, and the
ledger (credits payments and their refunds) must reconcile. Orders are placed (reserving), then
confirmed, cancelled or expired, each once: a second transition is refused with `order_not_pending`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from models import (Branch, Customer, Invoice, Order, OrderStatus, PaymentMethod, Product, Sale, SaleItem, SalePayment,
                    SaleStatus, Stock)
from services import billing, sales
from services.auth import create_user
from services.errors import DomainError
from services.sales import orders, pricing, selling
from tests.support import PASSWORD_HASH

CREDITS_PER_UNIT = 100
WALLET = 10_000_000  # credits: a credits payment never runs out
# (sku, price, tax rate, sizes): rates and prices that round half-up in interesting ways.
CATALOGUE = (("MUG", "1.99", "0.21", []), ("SHIRT", "12.35", "0.10", ["S", "M"]), ("PIN", "0.33", "0.04", []))
START_STOCK = {0: 12, 1: 2}  # per product and size, by branch: sales run out of stock now and then
LONG_AGO = datetime(2000, 1, 1, tzinfo=timezone.utc)  # a back-dated order is due at EXPIRY_CUTOFF
EXPIRY_CUTOFF = datetime(2000, 1, 2, tzinfo=timezone.utc)

# Unit prices: any, or ones whose tax lands on half a cent (0.05 x 0.10 = 0.005: half-up gives 0.01).
prices = st.integers(1, 9999).map(lambda n: Decimal(n) / 100) | st.sampled_from(
    [Decimal(p) for p in ("0.05", "0.15", "2.45", "12.35", "0.50")])
line = st.tuples(st.integers(0, len(CATALOGUE) - 1), st.integers(0, 1), st.integers(1, 3),
                 st.none() | prices)  # product, size, quantity, unit price (None: the catalogue's)
sale = st.tuples(st.just("sale"), st.integers(0, 1), st.lists(line, min_size=1, max_size=3),
                 st.integers(0, 300).map(lambda n: Decimal(n) / 100),  # discount
                 st.sampled_from(["cash", "cash_over", "card", "credits", "split"]))
order = st.tuples(st.just("order"), st.integers(0, 1), st.lists(line, min_size=1, max_size=3),
                  st.integers(0, 300).map(lambda n: Decimal(n) / 100), st.sampled_from(["web", "phone", "chat"]))
steps = st.lists(st.one_of(
    sale, sale,  # twice as likely as each other step
    st.tuples(st.just("replay"), st.integers(0, 50)),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    order,
    st.tuples(st.just("confirm"), st.integers(0, 50), st.sampled_from(["card", "cash_over"])),
    st.tuples(st.just("order_cancel"), st.integers(0, 50)),
    st.tuples(st.just("expire"), st.integers(0, 2**8 - 1)),  # which orders are due (bits); the pending of them expire
    st.tuples(st.just("adjust"), st.integers(0, 1), st.integers(0, len(CATALOGUE) - 1), st.integers(0, 1),
              st.integers(-4, -1) | st.integers(1, 8)),
    st.tuples(st.just("transfer"), st.integers(0, 1), st.integers(0, len(CATALOGUE) - 1), st.integers(0, 1),
              st.integers(1, 5)),
), min_size=4, max_size=18)


def half_up(value: Decimal) -> Decimal:
    """Cents, rounded half-up: the test's own, not the service's."""
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def make_shop(session) -> dict:
    branches = [Branch(name=f"Branch {n}", code=f"P{n}") for n in range(2)]
    products = [Product(sku=sku, name=sku, price=Decimal(price), tax_rate=Decimal(rate), has_sizes=bool(sizes),
                        sizes=sizes) for sku, price, rate, sizes in CATALOGUE]
    user = create_user(session, f"{uuid.uuid4().hex}@example.com", PASSWORD_HASH)
    session.add_all([*branches, *products])
    session.flush()
    customer = Customer(name="Buyer", user_id=user.id)
    session.add(customer)
    session.flush()
    billing.top_up(session, user.id, WALLET, event_id=f"topup-{user.id}")
    stock = {(p.id, size, b.id): 0 for p in products for size in (p.sizes or [""]) for b in branches}
    for n, branch in enumerate(branches):
        sales.adjust(session, branch.id, [{"product_id": p, "size": size, "quantity": START_STOCK[n]}
                                          for p, size, b in stock if b == branch.id],
                     reason="opening", reference="opening", user_id=None)
        stock.update({key: START_STOCK[n] for key in stock if key[2] == branch.id})
    return {"branches": [b.id for b in branches], "products": products, "customer": customer, "user": user.id,
            "stock": stock, "orders": []}  # orders: {"id", "key", "lines": {stock key: quantity}, "status", "total"}


def reserved(shop: dict) -> dict:
    """What the model's pending orders hold, per stock row."""
    held = defaultdict(int)
    for placed in shop["orders"]:
        if placed["status"] == "pending":
            for key, quantity in placed["lines"].items():
                held[key] += quantity
    return held


def available(shop: dict, key: tuple) -> int:
    return shop["stock"][key] - reserved(shop)[key]


def size_of(product: Product, pick: int) -> str:
    return product.sizes[pick % len(product.sizes)] if product.has_sizes else ""


def sale_body(shop: dict, n: int, lines: list, discount: Decimal, paying: str) -> tuple[dict, Decimal]:
    """A sale's normalised content, paid as `paying` says, and the total the model expects."""
    items, amount = [], Decimal("0.00")
    for product_pick, size_pick, quantity, unit_price in lines:
        product = shop["products"][product_pick]
        net = (product.price if unit_price is None else unit_price) * quantity
        amount += net + half_up(net * product.tax_rate)
        items.append({"product_id": product.id, "size": size_of(product, size_pick), "quantity": quantity,
                      "unit_price": unit_price})
    total = amount - discount
    half = (total / 2).quantize(Decimal("0.01"))
    payments = {"cash": [("cash", total)], "cash_over": [("cash", total + Decimal("5.00"))],
                "card": [("card", total)], "credits": [("credits", total)],
                "split": [("card", half), ("cash", total - half + Decimal("0.50"))]}[paying]
    body = {"client_sale_id": f"S-{n}", "customer_id": shop["customer"].id if paying == "credits" else None,
            "discount": discount, "items": items,
            "payments": [{"method": method, "amount": paid} for method, paid in payments if paid > 0]}
    return pricing.normalise(body), total


def lines_of(branch_id: int, body: dict) -> dict:
    """A sale's or an order's quantities per stock row."""
    needed = defaultdict(int)
    for item in body["items"]:
        needed[(item["product_id"], item["size"], branch_id)] += item["quantity"]
    return dict(needed)


def expected_refusal(shop: dict, branch_id: int, body: dict, total: Decimal) -> str | None:
    """The model's verdict on a new sale or order: None (applied) or the code it must be refused with."""
    if total < 0:
        return "discount_too_large"
    enough = all(available(shop, key) >= n for key, n in lines_of(branch_id, body).items())
    return None if enough else "insufficient_stock"


def run_step(session, shop: dict, n: int, step: tuple, recorded: list) -> None:
    """Apply one step (in the caller's savepoint) and update the model; refusals must be the model's."""
    kind, stock = step[0], shop["stock"]
    if kind == "sale":
        _, branch_pick, lines, discount, paying = step
        branch_id = shop["branches"][branch_pick]
        body, total = sale_body(shop, n, lines, discount, paying)
        refusal = expected_refusal(shop, branch_id, body, total)
        try:
            outcome = selling.record(session, branch_id, "T1", body, seller_id=None, job_id=None,
                                     credits_per_unit=CREDITS_PER_UNIT)
        except DomainError as exc:
            assert exc.code == refusal, (exc.code, exc.details, refusal)
            raise
        assert refusal is None and outcome["outcome"] == "applied"
        assert Decimal(outcome["total"]) == total
        recorded.append((branch_id, "T1", body, outcome["sale_id"]))
        for item in body["items"]:
            stock[(item["product_id"], item["size"], branch_id)] -= item["quantity"]
    elif kind == "replay" and recorded:
        branch_id, terminal, body, sale_id = recorded[step[1] % len(recorded)]
        again = selling.record(session, branch_id, terminal, body, seller_id=None, job_id=None,
                               credits_per_unit=CREDITS_PER_UNIT)
        assert again["outcome"] == "duplicate" and again["sale_id"] == sale_id
    elif kind == "cancel" and recorded:
        branch_id, _, body, sale_id = recorded[step[1] % len(recorded)]
        live = session.scalar(select(Sale.status).where(Sale.id == sale_id)) == SaleStatus.completed
        try:
            selling.cancel(session, sale_id, "changed their mind", user_id=None, job_id=None)
        except DomainError as exc:
            assert not live and exc.code == "sale_already_cancelled"
            raise
        assert live
        for item in body["items"]:
            stock[(item["product_id"], item["size"], branch_id)] += item["quantity"]
    elif kind in ("order", "confirm", "order_cancel", "expire"):
        run_order_step(session, shop, n, step, recorded)
    elif kind in ("adjust", "transfer"):
        _, branch_pick, product_pick, size_pick, quantity = step
        product = shop["products"][product_pick]
        source = shop["branches"][branch_pick]
        item = {"product_id": product.id, "size": size_of(product, size_pick), "quantity": quantity}
        key = (product.id, item["size"], source)
        short = available(shop, key) < (quantity if kind == "transfer" else -quantity)
        try:
            if kind == "adjust":
                sales.adjust(session, source, [item], reason="count", reference=f"a{n}", user_id=None)
            else:
                sales.transfer(session, source, shop["branches"][1 - branch_pick], [item], reference=f"t{n}",
                               user_id=None)
        except DomainError as exc:
            assert short and exc.code == "insufficient_stock", (exc.code, short)
            raise
        assert not short
        stock[key] += quantity if kind == "adjust" else -quantity
        if kind == "transfer":
            stock[(product.id, item["size"], shop["branches"][1 - branch_pick])] += quantity


def run_order_step(session, shop: dict, n: int, step: tuple, recorded: list) -> None:
    """Place an order, or move one (or the due ones) out of `pending`; each transition must happen once."""
    kind, placed = step[0], shop["orders"]
    if kind == "order":
        _, branch_pick, lines, discount, channel = step
        branch_id = shop["branches"][branch_pick]
        sale, total = sale_body(shop, n, lines, discount, "card")
        body = orders.normalise({**sale, "client_order_id": f"O-{n}", "channel": channel})
        refusal = expected_refusal(shop, branch_id, body, total)
        try:
            outcome = orders.place(session, branch_id, body, user_id=None, job_id=None)
        except DomainError as exc:
            assert exc.code == refusal, (exc.code, exc.details, refusal)
            raise
        assert refusal is None and outcome["outcome"] == "applied" and outcome["status"] == "pending"
        assert Decimal(outcome["total"]) == total
        again = orders.place(session, branch_id, body, user_id=None, job_id=None)  # placed once
        assert again["outcome"] == "duplicate" and again["order_id"] == outcome["order_id"]
        placed.append({"id": outcome["order_id"], "branch_id": branch_id, "lines": lines_of(branch_id, body),
                       "status": "pending", "total": total})
    elif kind == "expire":
        due = [o for bit, o in enumerate(placed) if step[1] >> bit & 1]
        session.execute(update(Order).where(Order.id.in_([o["id"] for o in due])).values(created_at=LONG_AGO))
        expired = orders.expire(session, older_than=EXPIRY_CUTOFF)
        assert expired == sorted(o["id"] for o in due if o["status"] == "pending")
        for o in due:
            o["status"] = "expired" if o["status"] == "pending" else o["status"]
    elif placed:
        chosen = placed[step[1] % len(placed)]
        was = chosen["status"]
        try:
            if kind == "confirm":
                paid = chosen["total"] + (Decimal("5.00") if step[2] == "cash_over" else 0)
                payments = [{"method": "card" if step[2] == "card" else "cash", "amount": paid}] if paid else []
                done = orders.confirm(session, chosen["id"], payments, job_id=None,
                                      credits_per_unit=CREDITS_PER_UNIT)
            else:
                done = orders.cancel(session, chosen["id"], user_id=None)
        except DomainError as exc:
            assert was != "pending" and exc.code == "order_not_pending", (was, exc.code)
            assert exc.details["status"] == was
            raise
        assert was == "pending"
        chosen["status"] = done["status"]
        assert done["status"] == ("confirmed" if kind == "confirm" else "cancelled")
        if kind == "confirm":  # the reservation became the sale's decrement
            for key, quantity in chosen["lines"].items():
                shop["stock"][key] -= quantity
            order_row = orders.order_of(session, chosen["id"])
            recorded.append((chosen["branch_id"], orders.TERMINAL,
                             orders.sale_content(session, order_row, pricing.normalise_payments(payments)),
                             done["sale_id"]))


def check_orders(session, shop: dict, rows: dict) -> None:
    """Orders' statuses are the model's, what is reserved is what pending orders hold, and a
    confirmed order has its sale (of the order's total) with an invoice."""
    held = reserved(shop)
    assert {key: r for key, (_, r) in rows.items() if r} == {key: r for key, r in held.items() if r}
    for placed in shop["orders"]:
        row = session.scalar(select(Order).where(Order.id == placed["id"]).execution_options(populate_existing=True))
        assert row.status == OrderStatus(placed["status"])
        assert (row.sale_id is not None) == (placed["status"] == "confirmed")
        if row.sale_id is not None:
            sale = session.get(Sale, row.sale_id)
            assert sale.total == row.total == placed["total"] and sale.branch_id == row.branch_id
            assert session.scalar(select(func.count()).select_from(Invoice).where(Invoice.sale_id == sale.id)) >= 1


def check_invariants(session, shop: dict, charged: int) -> None:
    assert sales.reconcile_stock(session) == []  # stock == its movements, 0 <= reserved <= quantity
    rows = {(r.product_id, r.size, r.branch_id): (r.quantity, r.reserved) for r in session.scalars(
        select(Stock).where(Stock.branch_id.in_(shop["branches"])).execution_options(populate_existing=True))}
    assert {key: q for key, (q, _) in rows.items() if q or key in shop["stock"]} == \
        {key: q for key, q in shop["stock"].items() if q or key in rows}
    assert all(q >= 0 and 0 <= held <= q for q, held in rows.values())  # available never negative
    check_orders(session, shop, rows)
    series = defaultdict(list)
    for branch_id, kind, year, sequence, number in session.execute(
            select(Invoice.branch_id, Invoice.kind, Invoice.year, Invoice.sequence, Invoice.number)):
        series[(branch_id, kind, year)].append(sequence)
        assert number.endswith(f"{year}-{sequence:06d}")
    for numbers in series.values():
        assert sorted(numbers) == list(range(1, len(numbers) + 1))  # gapless, each once
    for sale in session.scalars(select(Sale).execution_options(populate_existing=True)):
        check_money(session, sale)
    assert billing.reconcile(session) == []
    assert billing.wallet(session, shop["user"])["balance"] == WALLET - charged


def check_money(session, sale: Sale) -> None:
    """Per line: net = price x quantity, tax rounded half-up to cents, total = net + tax; the sale adds up."""
    items = session.scalars(select(SaleItem).where(SaleItem.sale_id == sale.id)).all()
    for item in items:
        assert item.net == item.unit_price * item.quantity
        assert item.tax == half_up(item.net * item.tax_rate) and item.total == item.net + item.tax
    assert sale.subtotal == sum(i.net for i in items) and sale.tax == sum(i.tax for i in items)
    assert sale.subtotal + sale.tax - sale.discount == sale.total >= 0
    payments = session.scalars(select(SalePayment).where(SalePayment.sale_id == sale.id)).all()
    assert sale.paid == sum((p.amount for p in payments), Decimal(0)) >= sale.total
    assert sale.change == sale.paid - sale.total
    assert sale.change <= sum((p.amount for p in payments if p.method == PaymentMethod.cash), Decimal(0))
    documents = session.scalar(select(func.count()).select_from(Invoice).where(Invoice.sale_id == sale.id))
    assert documents == (2 if sale.status == SaleStatus.cancelled else 1)  # the invoice, and a credit note


def credits_charged(session, recorded: list) -> int:
    """What the live sales' credits payments took from the wallet."""
    live = [sale_id for _, _, _, sale_id in recorded
            if session.scalar(select(Sale.status).where(Sale.id == sale_id)) == SaleStatus.completed]
    return int(session.scalar(select(func.coalesce(func.sum(SalePayment.credits), 0)).where(
        SalePayment.sale_id.in_(live), SalePayment.method == PaymentMethod.credits)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_any_sequence_of_sales_orders_and_stock_moves_keeps_every_invariant(db, steps):
    with db.Session() as session:
        session.begin()
        shop = make_shop(session)
        recorded: list = []
        for n, step in enumerate(steps):
            try:
                with session.begin_nested():
                    run_step(session, shop, n, step, recorded)
                event(f"{step[0]}: done")  # --hypothesis-show-statistics: how often each step ran or was refused
            except DomainError as exc:
                event(f"{step[0]}: refused, {exc.code}")  # the model expected it (run_step checked), no trace left
            check_invariants(session, shop, credits_charged(session, recorded))
        session.rollback()
