"""Orders: placed once (reserving their stock), then confirmed into a sale, cancelled or expired, each once.

Every transition is a conditional UPDATE of the order's status (`pending` -> ...), so a second
confirm, cancel or expiry of the same order finds it closed and changes nothing. The order row is
taken before any stock row (and a confirmation's sale draws its invoice number, then takes its stock
rows, as every sale does): one lock order, no deadlock with sales.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import MovementReason, Order, OrderItem, OrderStatus
from models.base import utcnow
from services.errors import Conflict
from services.sales import pricing, selling
from services.pagination import where_given
from services.sales.catalogue import get, list_page
from services.sales.stock import Move, apply

TERMINAL = "orders"  # the terminal of the sales that orders become; the sale's client id is the order's id
EXPIRY_BATCH = 500  # orders one expiry run closes at most (the next run takes the rest)


def normalise(order: dict) -> dict:
    """The order's content in canonical, JSON-able form (what its job carries and its fingerprint is made of)."""
    return {"client_order_id": order["client_order_id"], "channel": order["channel"],
            **pricing.normalise_lines(order)}


def fingerprint(normalised: dict) -> str:
    return pricing.fingerprint(normalised, id_field="client_order_id")


def find(session: Session, branch_id: int, client_order_id: str) -> Order | None:
    return session.scalar(select(Order).where(Order.branch_id == branch_id, Order.client_order_id == client_order_id))


def same_or_conflict(order: Order, digest: str) -> dict:
    """An order placed already: the same content is a duplicate, other content a 409."""
    if order.fingerprint != digest:
        raise Conflict("this client_order_id names another order", code="client_order_id_reused",
                       details={"order_id": order.id})
    return {"outcome": "duplicate", **_summary(order)}


def place(session: Session, branch_id: int, order: dict, *, user_id: int | None, job_id: uuid.UUID | None) -> dict:
    """Place the normalised `order` once as `pending`, reserving its stock (insufficient_stock: nothing)."""
    digest = fingerprint(order)
    existing = find(session, branch_id, order["client_order_id"])
    if existing is not None:
        return same_or_conflict(existing, digest)
    priced = pricing.price_lines(session, branch_id, order, may_discount=selling.may_discount(session, user_id))
    row = Order(branch_id=branch_id, channel=order["channel"], client_order_id=order["client_order_id"],
                fingerprint=digest, customer_id=order["customer_id"], created_by=user_id,
                status=OrderStatus.pending, subtotal=priced.subtotal, tax=priced.tax, discount=priced.discount,
                total=priced.total, job_id=job_id)
    try:
        with session.begin_nested():  # a twin committed meanwhile costs this statement, not the transaction
            session.add(row)
    except IntegrityError:
        twin = find(session, branch_id, order["client_order_id"])
        if twin is None:
            raise
        return same_or_conflict(twin, digest)
    apply(session, [Move(line["product_id"], branch_id, line["size"], 0, MovementReason.order_reserved,
                         reserved=line["quantity"]) for line in priced.lines],
          reference=f"order:{row.id}", user_id=user_id)
    session.add_all([OrderItem(order_id=row.id, line=line["line"], product_id=line["product_id"], size=line["size"],
                               quantity=line["quantity"], unit_price=line["unit_price"]) for line in priced.lines])
    session.flush()
    return {"outcome": "applied", **_summary(row)}


def sale_content(session: Session, order: Order, payments: list[dict]) -> dict:
    """The normalised sale an order becomes with `payments`: its lines at the agreed prices."""
    return {"client_sale_id": str(order.id), "customer_id": order.customer_id, "discount": str(order.discount),
            "items": [{"product_id": i.product_id, "sku": None, "size": i.size, "quantity": i.quantity,
                       "unit_price": str(i.unit_price)} for i in items_of(session, order.id)],
            "payments": pricing.normalise_payments(payments)}


def confirm(session: Session, order_id: int, payments: list[dict], *, job_id: uuid.UUID | None,
            credits_per_unit: int) -> dict:
    """Turn a pending order into a sale once: its reservation becomes the sale's decrement."""
    order = _close(session, order_id, OrderStatus.confirmed)
    sale = selling.record(session, order.branch_id, TERMINAL, sale_content(session, order, payments),
                          seller_id=order.created_by, job_id=job_id, credits_per_unit=credits_per_unit,
                          from_order=True)
    order.sale_id = sale["sale_id"]
    session.flush()
    return {**_summary(order), **{k: sale[k] for k in ("sale_id", "change", "invoice_id", "invoice_number")}}


def cancel(session: Session, order_id: int, *, user_id: int | None) -> dict:
    """Cancel a pending order once, releasing its reservation."""
    order = _close(session, order_id, OrderStatus.cancelled)
    _release(session, [order], user_id=user_id)
    return _summary(order)


def expire(session: Session, *, older_than: datetime) -> list[int]:
    """Expire pending orders placed before `older_than` (up to EXPIRY_BATCH), releasing their reservations.

    Orders another transaction holds (being confirmed or cancelled, or taken by another expiry run)
    are skipped, not waited for; the status condition makes each transition happen once anyway."""
    due = select(Order.id).where(Order.status == OrderStatus.pending, Order.created_at < older_than) \
        .order_by(Order.id).limit(EXPIRY_BATCH).with_for_update(skip_locked=True)
    ids = list(session.scalars(update(Order).where(Order.id.in_(due.scalar_subquery()),
                                                   Order.status == OrderStatus.pending)
                               .values(status=OrderStatus.expired, closed_at=utcnow())
                               .returning(Order.id).execution_options(synchronize_session=False)))
    if ids:
        _release(session, list(session.scalars(select(Order).where(Order.id.in_(ids)))), user_id=None)
    return sorted(ids)


def _close(session: Session, order_id: int, status: OrderStatus) -> Order:
    """Move a pending order to `status` (one conditional UPDATE), or 409 `order_not_pending`."""
    order = get(session, Order, order_id)
    closed = session.execute(update(Order).where(Order.id == order_id, Order.status == OrderStatus.pending)
                             .values(status=status, closed_at=utcnow())
                             .execution_options(synchronize_session=False)).rowcount
    if not closed:
        session.refresh(order)
        raise not_pending(order)
    session.refresh(order)
    return order


def _release(session: Session, orders: list[Order], *, user_id: int | None) -> None:
    """Give back what `orders` reserved: one call, so every row is taken in the global order."""
    branches = {o.id: o.branch_id for o in orders}
    items = session.scalars(select(OrderItem).where(OrderItem.order_id.in_(branches))).all()
    apply(session, [Move(i.product_id, branches[i.order_id], i.size, 0, MovementReason.order_released,
                         reserved=-i.quantity) for i in items],
          reference="order:release", user_id=user_id)  # a release writes no movement to refer from


def not_pending(order: Order) -> Conflict:
    return Conflict(f"the order is {order.status.value}, not pending", code="order_not_pending",
                    details={"order_id": order.id, "status": order.status.value})


def items_of(session: Session, order_id: int) -> list[OrderItem]:
    return list(session.scalars(select(OrderItem).where(OrderItem.order_id == order_id).order_by(OrderItem.line)))


def order_of(session: Session, order_id: int) -> Order:
    return get(session, Order, order_id)


def order_view(session: Session, order_id: int) -> dict:
    order = get(session, Order, order_id)
    return {**{c.key: getattr(order, c.key) for c in Order.__table__.columns}, "items": items_of(session, order_id)}


def orders_page(session: Session, *, branch_id: int | None, status: str | None, customer_id: int | None,
                limit: int, cursor: str | None) -> dict:
    stmt = where_given(select(Order), (Order.branch_id, branch_id),
                       (Order.status, OrderStatus(status) if status is not None else None),
                       (Order.customer_id, customer_id))
    return list_page(session, stmt, Order, limit, cursor)


def _summary(order: Order) -> dict:
    return {"order_id": order.id, "status": order.status.value, "total": str(order.total)}
