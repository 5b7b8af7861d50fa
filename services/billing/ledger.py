"""The ledger's one mechanism: post an operation's transfers to its accounts, all or none.

Users' balances live on their account rows and move only by conditional UPDATEs that cannot
overdraw them (`balance - pending` stays >= 0), on PostgreSQL and SQLite alike. An operation that
must read a user's balances to split an amount (granted credits first) locks the user's accounts
in id order first; one that need not (a hold's capture or void) lets its conditional UPDATE of the
same rows, taken in id order, serialise it. So concurrent operations never deadlock.

System accounts (bonus, payments, revenue, ...) are on the other side of nearly every operation, so a
row of theirs updated in every transaction would serialise the whole ledger behind one lock. Their
balances are not stored: they are the sums of their posted transfers (services/billing/balances.py),
double entry still holds transfer by transfer, and reconciliation checks every user balance against
the same transfers.

The hot path (a hold, its capture, a charge) is plain SQL statements, a few round trips each, with
no ORM objects: an LLM call costs two of these operations.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import bindparam, case, insert, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Account, AccountKind, LedgerOperation, Transfer, TransferKind, TransferStatus
from models.base import utcnow
from services.errors import Conflict, DomainError

USER_KINDS = (AccountKind.granted, AccountKind.purchased)


class InsufficientFunds(DomainError):
    code = "insufficient_funds"
    status = 422


@dataclass(frozen=True)
class Leg:
    debit_id: int
    credit_id: int
    amount: int
    kind: TransferKind
    status: TransferStatus = TransferStatus.posted
    reference_id: int | None = None
    description: str | None = None


@dataclass(frozen=True)
class Reservation:
    """A hold's pending transfer."""

    id: int
    debit_id: int
    credit_id: int
    amount: int
    description: str | None


@dataclass(frozen=True)
class Balance:
    """A user account as its lock read it."""

    id: int
    balance: int
    pending: int

    @property
    def available(self) -> int:
        return max(0, self.balance - self.pending)


@dataclass(frozen=True)
class Locked:
    """A user's accounts, locked, and the id of the system account on the other side."""

    accounts: dict[AccountKind, Balance]
    system_id: int

    @property
    def ids(self) -> set[int]:
        return {a.id for a in self.accounts.values()}


@dataclass
class Operation:
    """A ledger_operations row as the hot path needs it."""

    id: uuid.UUID
    idempotency_key: str
    user_id: int | None
    job_id: uuid.UUID | None
    amount: int
    result: dict = field(default_factory=dict)


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def run(session: Session, statement, params: dict):
    """Execute one of the hot path's Core statements on the session's connection (in its transaction):
    none of Session.execute's ORM work, a fifth of an operation's CPU. begin_operation flushes the
    caller's pending objects once, which Session.execute would do before every statement."""
    return session.connection().execute(statement, params)


# The hot path's statements are built once (values come as parameters), so that SQLAlchemy compiles
# each shape once per process and psycopg can prepare it; on tables, not entities, so that executing
# them skips the ORM's per-statement work.
ACCOUNTS, OPERATIONS, TRANSFERS = Account.__table__, LedgerOperation.__table__, Transfer.__table__
_OPERATION_INSERT = {
    dialect: upsert(OPERATIONS).on_conflict_do_nothing(index_elements=["idempotency_key"])
    .returning(OPERATIONS.c.id) for dialect, upsert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))}
_SYSTEM_ID = select(ACCOUNTS.c.id).where(ACCOUNTS.c.name == bindparam("system")).scalar_subquery()
_LOCK_USER = (select(ACCOUNTS.c.id, ACCOUNTS.c.kind, ACCOUNTS.c.balance, ACCOUNTS.c.pending,
                     _SYSTEM_ID.label("system_id"))
              .where(ACCOUNTS.c.owner_id == bindparam("user_id")).order_by(ACCOUNTS.c.id).with_for_update())
_LOCK_IDS = (select(ACCOUNTS.c.id).where(ACCOUNTS.c.id.in_(bindparam("ids", expanding=True)))
             .order_by(ACCOUNTS.c.id).with_for_update())


def forget(session: Session, model, ids, attributes: list[str]) -> None:
    """Expire what the session holds of these rows (a caller may have loaded them as objects), which
    a Core statement just changed behind its back."""
    for ident in ids:
        held = session.identity_map.get(session.identity_key(model, ident))
        if held is not None:
            session.expire(held, attributes)


def fingerprint(kind: TransferKind, params: dict) -> str:
    """What an operation's idempotency key stands for: the same key with another fingerprint is refused."""
    return hashlib.sha256(json.dumps([kind.value, params], sort_keys=True, default=str).encode()).hexdigest()


def begin_operation(session: Session, *, key: str, kind: TransferKind, params: dict, amount: int,
                    user_id: int | None = None, job_id: uuid.UUID | None = None,
                    **columns) -> tuple[Operation, bool]:
    """Record an operation under its idempotency key; returns (operation, already_done).

    The same key with the same parameters finds the first operation; with others it is refused.
    """
    digest = fingerprint(kind, params)
    values = {"id": uuid.uuid4(), "idempotency_key": key, "kind": kind, "fingerprint": digest, "user_id": user_id,
              "job_id": job_id, "amount": amount, "result": {}, "created_at": utcnow(), "state": None,
              "expires_at": None, "resolved_at": None, **columns}
    session.flush()
    # One round trip in the usual case: the insert either lands or meets the first operation.
    inserted = run(session, _OPERATION_INSERT[session.get_bind().dialect.name], values).first()
    if inserted:
        return Operation(values["id"], key, user_id, job_id, amount), False
    existing = session.execute(select(LedgerOperation.id, LedgerOperation.fingerprint, LedgerOperation.user_id,
                                      LedgerOperation.job_id, LedgerOperation.amount, LedgerOperation.result)
                               .where(LedgerOperation.idempotency_key == key)).one()
    if existing.fingerprint != digest:
        raise Conflict("this idempotency key was used for another operation", code="idempotency_key_reused",
                       details={"operation_id": str(existing.id)})
    return Operation(existing.id, key, existing.user_id, existing.job_id, existing.amount, existing.result), True


def lock_user(session: Session, user_id: int, system: str) -> Locked:
    """The user's granted and purchased accounts (opened on first use), locked in id order, and the
    system account `system` (created on first use; read, never locked): one statement once they exist."""
    params = {"user_id": user_id, "system": system}
    rows = run(session, _LOCK_USER, params).all()
    if len(rows) < len(USER_KINDS) or rows[0].system_id is None:
        _open_accounts(session, user_id, system)
        rows = run(session, _LOCK_USER, params).all()
    return Locked({row.kind: Balance(row.id, row.balance, row.pending) for row in rows}, rows[0].system_id)


def system_account_id(session: Session, name: str) -> int:
    """The id of the system account `name`, created on first use (never locked: see the docstring)."""
    found = session.scalar(select(Account.id).where(Account.name == name))
    if found is None:
        _create(session, Account(owner_id=None, kind=AccountKind.system, name=name, balance=0, pending=0))
        found = session.scalar(select(Account.id).where(Account.name == name))
    return found


def _open_accounts(session: Session, user_id: int, system: str) -> None:
    """Create whichever of the user's accounts and the system account do not exist yet."""
    system_account_id(session, system)
    existing = set(session.scalars(select(Account.kind).where(Account.owner_id == user_id)))
    for kind in USER_KINDS:
        if kind not in existing:
            _create(session, Account(owner_id=user_id, kind=kind, balance=0, pending=0))


def _create(session: Session, account: Account) -> None:
    """Insert, unless a concurrent transaction inserted the same account first."""
    try:
        with session.begin_nested():
            session.add(account)
    except IntegrityError:
        pass  # the savepoint's rollback took the account out of the session; the other one is there


def apply(session: Session, operation: Operation, legs: list[Leg], *, users: set[int], locked: bool = True,
          releases: list[Reservation] = (), **result) -> dict:
    """Post `legs` in one go (and take the reservations `releases`, voided by the caller, out of
    their accounts' `pending`), update the user accounts among them (`users`; `locked`: by the
    caller, with lock_user), and store the operation's result (with its transfer ids).
    InsufficientFunds: the caller's transaction must be rolled back (earlier statements have run)."""
    balance, pending = defaultdict(int), defaultdict(int)
    for leg in legs:
        if leg.status == TransferStatus.posted:
            balance[leg.debit_id] -= leg.amount
            balance[leg.credit_id] += leg.amount
        else:
            pending[leg.debit_id] += leg.amount
    for held in releases:
        pending[held.debit_id] -= held.amount
    _move(session, {i: (balance[i], pending[i]) for i in sorted(set(balance) | set(pending)) if i in users},
          locked=locked)
    return _post(session, operation, legs, result)


def _move(session: Session, deltas: dict[int, tuple[int, int]], *, locked: bool) -> None:
    """Add (balance, pending) deltas to user accounts in one conditional UPDATE.

    One UPDATE of several rows locks them in the order it finds them, not by id: rows the caller has
    not locked yet are locked in id order first (as lock_user does), so that no two operations deadlock."""
    if not deltas:
        return
    if not locked and len(deltas) > 1:
        run(session, _LOCK_IDS, {"ids": list(deltas)})
    params = {}
    for n, (account_id, (balance, pending)) in enumerate(deltas.items()):
        params |= {f"id_{n}": account_id, f"balance_{n}": balance, f"pending_{n}": pending}
    moved = run(session, _move_statement(len(deltas)), params).rowcount
    if moved != len(deltas):
        raise InsufficientFunds("not enough credits available", details={"account_ids": list(deltas)})
    forget(session, Account, deltas, ["balance", "pending"])


@functools.cache
def _move_statement(accounts: int):
    """UPDATE `accounts` user accounts by their deltas, none below zero (parameters id_n, balance_n, pending_n)."""
    def delta(name):
        return case({bindparam(f"id_{n}"): bindparam(f"{name}_{n}") for n in range(accounts)}, value=ACCOUNTS.c.id)
    new_balance = ACCOUNTS.c.balance + delta("balance")
    new_pending = ACCOUNTS.c.pending + delta("pending")
    return (update(ACCOUNTS).where(ACCOUNTS.c.id.in_([bindparam(f"id_{n}") for n in range(accounts)]),
                                   new_balance - new_pending >= 0)
            .values(balance=new_balance, pending=new_pending))


_TRANSFER_COLUMNS = ("debit_account_id", "credit_account_id", "amount", "kind", "status", "operation_id", "job_id",
                     "reference_id", "idempotency_key", "description", "created_at")
_WRITE_OPERATION = (update(OPERATIONS).where(OPERATIONS.c.id == bindparam("op_id"))
                    .values(user_id=bindparam("op_user"), job_id=bindparam("op_job"), result=bindparam("result")))


@functools.cache
def _post_statement(legs: int):
    """PostgreSQL: insert `legs` transfers (parameters <column>_n) and store the operation's user, job
    and result (`result` and the transfers' ids) in one statement. Text: SQLAlchemy cannot cache a
    multi-row INSERT in a CTE, and compiling it again per operation would cost more than the round trip."""
    rows = ", ".join("(" + ", ".join(f":{column}_{n}" for column in _TRANSFER_COLUMNS) + ")" for n in range(legs))
    return text(
        f"WITH inserted AS (INSERT INTO transfers ({', '.join(_TRANSFER_COLUMNS)}) VALUES {rows} RETURNING id) "
        "UPDATE ledger_operations SET user_id = :op_user, job_id = :op_job, result = CAST(:result AS JSONB) || "
        "jsonb_build_object('transfer_ids', (SELECT jsonb_agg(id ORDER BY id) FROM inserted)) "
        "WHERE id = :op_id RETURNING result").bindparams(bindparam("result", type_=JSONB))


def _post(session: Session, operation: Operation, legs: list[Leg], result: dict) -> dict:
    """Insert the legs' transfers and store the operation's result with their ids: one statement on
    PostgreSQL (the insert in a CTE of the result's update), two on SQLite."""
    now = utcnow()
    rows = [{"debit_account_id": leg.debit_id, "credit_account_id": leg.credit_id, "amount": leg.amount,
             "kind": leg.kind, "status": leg.status, "operation_id": operation.id, "job_id": operation.job_id,
             "reference_id": leg.reference_id, "idempotency_key": f"{operation.idempotency_key}#{n}",
             "description": leg.description, "created_at": now} for n, leg in enumerate(legs)]
    target = {"op_id": operation.id, "op_user": operation.user_id, "op_job": operation.job_id}
    if rows and _is_postgresql(session):
        params = {f"{column}_{n}": value.value if isinstance(value, enum.Enum) else value
                  for n, row in enumerate(rows) for column, value in row.items()}
        operation.result = run(session, _post_statement(len(rows)), {**params, **target, "result": result}
                               ).scalar_one()
        return operation.result
    ids = list(run(session, insert(TRANSFERS).returning(TRANSFERS.c.id, sort_by_parameter_order=True),
                   rows).scalars()) if rows else []
    operation.result = {**result, "transfer_ids": ids}
    run(session, _WRITE_OPERATION, {**target, "result": operation.result})
    return operation.result


def spend_legs(locked: Locked, amount: int, kind: TransferKind, *,
               status: TransferStatus = TransferStatus.posted, description: str | None = None) -> list[Leg]:
    """Take `amount` from granted credits first and the rest from purchased, into the locked system
    account; refuse if short."""
    granted, purchased = locked.accounts[AccountKind.granted], locked.accounts[AccountKind.purchased]
    available = granted.available + purchased.available
    if amount > available:
        raise InsufficientFunds("not enough credits available", details={"requested": amount, "available": available})
    from_granted = min(amount, granted.available)
    return [Leg(source.id, locked.system_id, part, kind, status, description=description)
            for source, part in ((granted, from_granted), (purchased, amount - from_granted)) if part]
