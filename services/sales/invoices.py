"""Invoices and credit notes: gapless numbers per branch, kind and year, and a snapshot of what was sold.

The number comes from a counter row moved by one conditional UPDATE ... RETURNING inside the sale's
own transaction: the row stays locked until that transaction ends, and a sale rolled back gives its
number back, so a series never has a gap. A sale draws its number first, before any stock row: one
lock order (the branch's counter, then stock rows, then wallets), so that an offline batch's step,
which takes several sales' rows, cannot deadlock with the branch's other sales.
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from models import Branch, Customer, DocumentCounter, DocumentKind, Invoice, Sale, SaleItem, SalePayment
from models.base import utcnow
from services.pagination import where_given
from services.sales.catalogue import get, list_page

PREFIX = {DocumentKind.invoice: "", DocumentKind.credit_note: "CN-"}


@dataclass(frozen=True)
class Number:
    year: int
    sequence: int
    text: str  # `B01-2026-000123`, `B01-CN-2026-000007`


def draw(session: Session, branch_id: int, kind: DocumentKind) -> Number:
    """The next number of the branch's series of `kind` for this year (the branch's local year)."""
    branch = session.get(Branch, branch_id)
    year = local_year(branch)
    sequence, text = next_number(session, branch, kind, year)
    return Number(year, sequence, text)


def next_number(session: Session, branch: Branch, kind: DocumentKind, year: int) -> tuple[int, str]:
    """The series' next sequence number and the document number made of it: `B01-2026-000123`."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(DocumentCounter).values(branch_id=branch.id, kind=kind.value, year=year, last=0)
                    .on_conflict_do_nothing(index_elements=["branch_id", "kind", "year"]))
    sequence = session.execute(
        update(DocumentCounter)
        .where(DocumentCounter.branch_id == branch.id, DocumentCounter.kind == kind, DocumentCounter.year == year)
        .values(last=DocumentCounter.last + 1).returning(DocumentCounter.last)).scalar_one()
    return sequence, f"{branch.code}-{PREFIX[kind]}{year}-{sequence:06d}"


def local_year(branch: Branch) -> int:
    """The year at the branch, in its own time zone: a sale on New Year's Eve counts where it was made."""
    return utcnow().astimezone(zoneinfo.ZoneInfo(branch.timezone)).year


def issue_invoice(session: Session, sale: Sale, number: Number, items: list[SaleItem], payments: list[SalePayment],
                  customer: dict | None) -> Invoice:
    """The sale's invoice under the `number` it drew (`draw`) at the start of its transaction."""
    branch = session.get(Branch, sale.branch_id)
    invoice = Invoice(kind=DocumentKind.invoice, number=number.text, branch_id=branch.id, year=number.year,
                      sequence=number.sequence, sale_id=sale.id, seller=_seller(branch, sale), customer=customer,
                      lines=[_line(item) for item in items], tax_summary=_tax_summary(items),
                      totals={name: _money(getattr(sale, name))
                              for name in ("subtotal", "tax", "discount", "total", "paid", "change")},
                      payments=[{"method": p.method.value, "amount": _money(p.amount), "credits": p.credits}
                                for p in payments])
    session.add(invoice)
    session.flush()
    return invoice


def issue_credit_note(session: Session, sale: Sale, reason: str) -> Invoice:
    """The sale's invoice with every amount negated, numbered in the branch's credit-note series."""
    invoice = session.scalar(select(Invoice).where(Invoice.sale_id == sale.id, Invoice.kind == DocumentKind.invoice))
    number = draw(session, sale.branch_id, DocumentKind.credit_note)
    note = Invoice(kind=DocumentKind.credit_note, number=number.text, branch_id=sale.branch_id, year=number.year,
                   sequence=number.sequence, sale_id=sale.id, credited_invoice_id=invoice.id, seller=invoice.seller,
                   customer=invoice.customer,
                   lines=[_negated(line, ("net", "tax", "total")) for line in invoice.lines],
                   tax_summary=[_negated(row, ("net", "tax")) for row in invoice.tax_summary],
                   totals=_negated(invoice.totals, ("subtotal", "tax", "discount", "total", "paid", "change")),
                   payments=[_negated(p, ("amount",)) | {"credits": p["credits"] and -p["credits"]}
                             for p in invoice.payments], reason=reason)
    session.add(note)
    session.flush()
    return note


def invoice_of(session: Session, invoice_id: int) -> Invoice:
    return get(session, Invoice, invoice_id)


def customer_invoices(session: Session, customer_id: int, *, branch_id: int | None, limit: int,
                      cursor: str | None) -> dict:
    """The invoices and credit notes of the customer's sales (in `branch_id` when given), newest first."""
    get(session, Customer, customer_id)
    stmt = select(Invoice).join(Sale, Sale.id == Invoice.sale_id).where(Sale.customer_id == customer_id)
    return list_page(session, where_given(stmt, (Invoice.branch_id, branch_id)), Invoice, limit, cursor)


def _seller(branch: Branch, sale: Sale) -> dict:
    return {"branch_id": branch.id, "code": branch.code, "name": branch.name, "address": branch.address,
            "user_id": sale.seller_id, "terminal_id": sale.terminal_id}


def _money(value: Decimal) -> str:
    return str(Decimal(value).quantize(Decimal("0.01")))


def _line(item: SaleItem) -> dict:
    return {"line": item.line, "product_id": item.product_id, "sku": item.sku, "name": item.name, "size": item.size,
            "quantity": item.quantity, "unit_price": _money(item.unit_price), "tax_rate": str(item.tax_rate),
            "net": _money(item.net), "tax": _money(item.tax), "total": _money(item.total)}


def _tax_summary(items: list[SaleItem]) -> list[dict]:
    by_rate: dict[Decimal, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for item in items:
        by_rate[item.tax_rate][0] += item.net
        by_rate[item.tax_rate][1] += item.tax
    return [{"rate": str(rate), "net": _money(net), "tax": _money(tax)} for rate, (net, tax) in sorted(by_rate.items())]


def _negated(row: dict, names: tuple[str, ...]) -> dict:
    return {**row, **{name: _money(0 - Decimal(row[name])) for name in names}}  # 0 - x: never "-0.00"
