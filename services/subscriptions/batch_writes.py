"""The refresh's writes for a whole batch, each one statement whatever the batch's size: the batch's
computed rows travel as ONE JSON parameter, read as a table (PostgreSQL jsonb_to_recordset, SQLite
json_each), and every write is an INSERT ... SELECT or an UPDATE ... FROM over it.

Each row: sid (subscription), uid (user), acct (granted account), start/end (the new period), tier,
grant, expired, op (the ledger operation's id), key (its idempotency key), fp (its fingerprint).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

from sqlalchemy import BigInteger, Integer, String, case, column, func, insert, literal, select, text, update
from sqlalchemy.orm import Session

from models import Account, LedgerOperation, Subscription, Transfer, TransferKind, TransferStatus

COLUMNS = {"sid": Integer, "uid": Integer, "acct": Integer, "start": String, "end": String, "tier": Integer,
           "grant": BigInteger, "expired": BigInteger, "op": String, "key": String, "fp": String}
_PG_TYPES = {"start": "timestamptz", "end": "timestamptz", "op": "uuid", "key": "text", "fp": "text",
             "grant": "bigint", "expired": "bigint"}


def stored(session: Session, value):
    """A datetime or a UUID as the dialect stores it (SQLite: UTCDateTime's naive text, Uuid's 32 hex)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    if isinstance(value, datetime):
        value = value.astimezone(timezone.utc)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else value.isoformat()
    if isinstance(value, uuid.UUID):
        return value.hex if sqlite else str(value)
    return value


def _rows(session: Session, rows: list[dict]):
    """The rows as a subquery `v`, from one bound JSON document."""
    if session.get_bind().dialect.name == "postgresql":
        columns = ", ".join(f'"{name}" {_PG_TYPES.get(name, "int")}' for name in COLUMNS)
        source = f"SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v({columns})"
    else:
        source = "SELECT " + ", ".join(f"json_extract(value, '$.{name}') AS \"{name}\"" for name in COLUMNS) + \
                 " FROM json_each(:rows)"
    return (text(source).bindparams(rows=json.dumps(rows))
            .columns(*(column(name, kind) for name, kind in COLUMNS.items())).subquery("v"))


def write_batch(session: Session, rows: list[dict], *, grants_id: int, expired_id: int, now: datetime) -> None:
    """The batch's ledger operations, transfers, account balances and subscription periods."""
    v = _rows(session, rows)
    build = func.jsonb_build_object if session.get_bind().dialect.name == "postgresql" else func.json_object
    at = literal(now, Transfer.created_at.type)
    session.execute(insert(LedgerOperation.__table__).from_select(
        ["id", "idempotency_key", "kind", "fingerprint", "user_id", "amount", "result", "created_at"],
        select(v.c.op, v.c.key, literal(TransferKind.grant.value), v.c.fp, v.c.uid, v.c.grant,
               build("subscription_id", v.c.sid, "granted", v.c.grant, "expired", v.c.expired), at)))
    legs = (  # (debit, credit, amount, kind, suffix): the expiry first, as renew() (grants.py) posts them
        (v.c.acct, literal(expired_id), v.c.expired, TransferKind.expiry, literal("#0")),
        (literal(grants_id), v.c.acct, v.c.grant, TransferKind.grant,
         case((v.c.expired > 0, literal("#1")), else_=literal("#0"))))
    for debit, credit, amount, kind, suffix in legs:
        session.execute(insert(Transfer.__table__).from_select(
            ["debit_account_id", "credit_account_id", "amount", "kind", "status", "operation_id",
             "idempotency_key", "description", "created_at"],
            select(debit, credit, amount, literal(kind.value), literal(TransferStatus.posted.value), v.c.op,
                   v.c.key.op("||")(suffix), literal("subscription refresh"), at).where(amount > 0)))
    session.execute(update(Account).where(Account.id == v.c.acct, v.c.grant != v.c.expired)
                    .values(balance=Account.balance + v.c.grant - v.c.expired)
                    .execution_options(synchronize_session=False))
    session.execute(update(Subscription).where(Subscription.id == v.c.sid)
                    .values(period_start=v.c.start, period_end=v.c.end, tier_id=v.c.tier, period_granted=v.c.grant,
                            next_tier_id=None, updated_at=now)
                    .execution_options(synchronize_session=False))
