"""Customers: create, change, find (part of the name or email, or an exact tax id or phone)."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from models import Customer, User
from services.errors import DomainError
from services.sales.catalogue import get, list_page


def _check_user(session: Session, user_id: int | None) -> None:
    if user_id is not None and session.get(User, user_id) is None:
        raise DomainError("no such user", code="unknown_user", details={"user_id": user_id})


def create_customer(session: Session, data: dict) -> Customer:
    _check_user(session, data.get("user_id"))
    customer = Customer(**data)
    session.add(customer)
    session.flush()
    return customer


def update_customer(session: Session, customer_id: int, changes: dict) -> Customer:
    customer = get(session, Customer, customer_id, lock=True)
    _check_user(session, changes.get("user_id"))
    for name, value in changes.items():
        setattr(customer, name, value)
    session.flush()
    return customer


def customers(session: Session, *, q: str | None, limit: int, cursor: str | None) -> dict:
    stmt = select(Customer)
    if q:
        stmt = stmt.where(or_(func.lower(Customer.name).contains(q.lower(), autoescape=True),
                              func.lower(Customer.email).contains(q.lower(), autoescape=True),
                              Customer.tax_id == q, Customer.phone == q))
    return list_page(session, stmt, Customer, limit, cursor)
