"""Recording a sale exactly once, and cancelling it exactly once.

A sale is written in its caller's transaction (a job's): the sale, its lines and payments, the stock
decrements with their movements (services/sales/stock.py, never below zero), a credits payment's
charge (services/billing) and the invoice. Any error leaves the caller to roll it all back. The
terminal's (branch, terminal, client_sale_id) names a sale once: the same content again is the same
sale (`duplicate`), other content is `client_sale_id_reused`.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import (DocumentKind, Invoice, MovementReason, PaymentMethod, Role, Sale, SaleItem, SalePayment,
                    SaleStatus, Transfer, User)
from models.base import utcnow
from services import billing
from services.errors import Conflict
from services.sales import invoices, pricing
from services.pagination import where_given
from services.sales.catalogue import get, list_page
from services.sales.stock import Move, apply

MAY_DISCOUNT = (Role.admin, Role.manager)


def find(session: Session, branch_id: int, terminal_id: str, client_sale_id: str) -> Sale | None:
    return session.scalar(select(Sale).where(Sale.branch_id == branch_id, Sale.terminal_id == terminal_id,
                                             Sale.client_sale_id == client_sale_id))


def same_or_conflict(session: Session, sale: Sale, fingerprint: str) -> dict:
    """What an already recorded sale answers: the same content is a duplicate; other content a 409."""
    if sale.fingerprint != fingerprint:
        raise Conflict("this client_sale_id names another sale", code="client_sale_id_reused",
                       details={"sale_id": sale.id})
    return {"outcome": "duplicate", **_summary(sale, documents_of(session, sale.id)[0])}


def may_discount(session: Session, user_id: int | None) -> bool:
    """Whether the user may sell below the catalogue price (a system job may)."""
    return user_id is None or session.scalar(select(User.role).where(User.id == user_id)) in MAY_DISCOUNT


def record(session: Session, branch_id: int, terminal_id: str, sale: dict, *, seller_id: int | None,
           job_id: uuid.UUID | None, credits_per_unit: int, from_order: bool = False) -> dict:
    """Record the normalised `sale` once; `{"outcome": "applied" | "duplicate", "sale_id", ...}`.

    `from_order`: the lines are an order's, agreed (their prices checked) and reserved when it was
    placed; the reservation becomes the decrement (services/sales/orders.py)."""
    digest = pricing.fingerprint(sale)
    existing = find(session, branch_id, terminal_id, sale["client_sale_id"])
    if existing is not None:
        return same_or_conflict(session, existing, digest)
    priced = pricing.price(session, branch_id, sale, may_discount=from_order or may_discount(session, seller_id),
                           credits_per_unit=credits_per_unit)
    number = invoices.draw(session, branch_id, DocumentKind.invoice)  # first: see services/sales/invoices.py
    row = Sale(branch_id=branch_id, terminal_id=terminal_id, client_sale_id=sale["client_sale_id"],
               fingerprint=digest, seller_id=seller_id, customer_id=sale.get("customer_id"),
               status=SaleStatus.completed, subtotal=priced.subtotal, tax=priced.tax, discount=priced.discount,
               total=priced.total, paid=priced.paid, change=priced.change, job_id=job_id)
    try:
        # A savepoint: a twin committed meanwhile (another job) costs this statement, not the transaction.
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        twin = find(session, branch_id, terminal_id, sale["client_sale_id"])
        if twin is None:
            raise  # not the unique key: a real fault
        return same_or_conflict(session, twin, digest)
    apply(session, [Move(line["product_id"], branch_id, line["size"], -line["quantity"], MovementReason.sale,
                         reserved=-line["quantity"] if from_order else 0)
                    for line in priced.lines], reference=f"sale:{row.id}", user_id=seller_id)
    items = [SaleItem(sale_id=row.id, **{k: line[k] for k in (
        "line", "product_id", "sku", "name", "size", "quantity", "unit_price", "tax_rate", "net", "tax", "total")})
        for line in priced.lines]
    payments = [_pay(session, row, n, payment, priced.customer, job_id) for n, payment in enumerate(priced.payments)]
    session.add_all(items + payments)
    customer = priced.customer
    snapshot = None if customer is None else {k: getattr(customer, k) for k in (
        "id", "name", "email", "phone", "tax_id")}
    invoice = invoices.issue_invoice(session, row, number, items, payments, snapshot)
    return {"outcome": "applied", **_summary(row, invoice)}


def _pay(session: Session, sale: Sale, n: int, payment: dict, customer, job_id) -> SalePayment:
    """A payment row; a `credits` one charges the customer's user's wallet (InsufficientFunds: nothing)."""
    row = SalePayment(sale_id=sale.id, method=PaymentMethod(payment["method"]), amount=payment["amount"],
                      credits=payment["credits"])
    if row.method == PaymentMethod.credits:
        charged = billing.charge(session, customer.user_id, payment["credits"], key=f"sale:{sale.id}:payment:{n}",
                                 job_id=job_id, description=f"sale {sale.id}", reference=f"sale:{sale.id}")
        row.transfer_ids = charged["transfer_ids"]
    return row


def cancel(session: Session, sale_id: int, reason: str, *, user_id: int | None, job_id: uuid.UUID | None) -> dict:
    """Cancel a completed sale once: its stock back, its credits refunded, a credit note issued."""
    sale = get(session, Sale, sale_id)
    cancelled = session.execute(
        update(Sale).where(Sale.id == sale_id, Sale.status == SaleStatus.completed)
        .values(status=SaleStatus.cancelled, cancel_reason=reason, cancelled_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    if not cancelled:
        raise already_cancelled(sale_id)
    session.refresh(sale)
    items = session.scalars(select(SaleItem).where(SaleItem.sale_id == sale_id).order_by(SaleItem.line)).all()
    apply(session, [Move(i.product_id, sale.branch_id, i.size, i.quantity, MovementReason.sale_cancelled)
                    for i in items], reference=f"sale:{sale_id}", user_id=user_id, note=reason)
    refunded = 0
    for payment in session.scalars(select(SalePayment).where(SalePayment.sale_id == sale_id,
                                                             SalePayment.method == PaymentMethod.credits)):
        for transfer_id in payment.transfer_ids or ():
            amount = session.scalar(select(Transfer.amount).where(Transfer.id == transfer_id))
            billing.refund(session, transfer_id, amount, key=f"sale-cancel:{sale_id}:{transfer_id}", job_id=job_id)
            refunded += amount
    note = invoices.issue_credit_note(session, sale, reason)
    return {"sale_id": sale_id, "status": "cancelled", "credit_note_id": note.id, "credit_note_number": note.number,
            "credits_refunded": refunded}


def already_cancelled(sale_id: int) -> Conflict:
    return Conflict("the sale is cancelled already", code="sale_already_cancelled", details={"sale_id": sale_id})


def sale_of(session: Session, sale_id: int) -> Sale:
    return get(session, Sale, sale_id)


def sale_view(session: Session, sale_id: int) -> dict:
    """The sale with its lines, payments, invoice id and (once cancelled) credit note id."""
    sale = get(session, Sale, sale_id)
    documents = {d.kind: d.id for d in documents_of(session, sale_id)}
    return {**{c.key: getattr(sale, c.key) for c in Sale.__table__.columns},
            "items": session.scalars(select(SaleItem).where(SaleItem.sale_id == sale_id).order_by(SaleItem.line)).all(),
            "payments": session.scalars(select(SalePayment).where(SalePayment.sale_id == sale_id)
                                        .order_by(SalePayment.id)).all(),
            "invoice_id": documents.get(DocumentKind.invoice),
            "credit_note_id": documents.get(DocumentKind.credit_note)}


def sales_page(session: Session, *, branch_id: int | None, customer_id: int | None, limit: int,
               cursor: str | None) -> dict:
    stmt = where_given(select(Sale), (Sale.branch_id, branch_id), (Sale.customer_id, customer_id))
    return list_page(session, stmt, Sale, limit, cursor)


def documents_of(session: Session, sale_id: int) -> list[Invoice]:
    """The sale's invoice, then its credit note if it was cancelled."""
    return list(session.scalars(select(Invoice).where(Invoice.sale_id == sale_id).order_by(Invoice.id)))


def _summary(sale: Sale, invoice: Invoice) -> dict:
    return {"sale_id": sale.id, "total": str(sale.total), "change": str(sale.change), "invoice_id": invoice.id,
            "invoice_number": invoice.number}

