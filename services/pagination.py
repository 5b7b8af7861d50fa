"""Keyset pagination, newest first, over (created_at, id): every list in the API pages this way."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timezone

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import Session

from models.base import int_column_max
from services.errors import InvalidInput

MAX_LIMIT = 200


def _encode(created_at: datetime, ident) -> str:
    raw = json.dumps([created_at.isoformat(), str(ident)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, id_col) -> tuple[datetime, object]:
    """What `_encode` wrote: an aware time and an id that fits `id_col`; anything else is invalid_cursor."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        items = json.loads(base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True))
        if not (isinstance(items, list) and len(items) == 2 and all(isinstance(item, str) for item in items)):
            raise ValueError("not [created_at, id]")
        created = datetime.fromisoformat(items[0])
        if created.tzinfo is None:
            raise ValueError("a naive time")
        created = created.astimezone(timezone.utc)  # OverflowError near year 1 or 9999
        if id_col.type.python_type is uuid.UUID:
            return created, uuid.UUID(items[1])
        ident = int(items[1])
        if not 0 < ident <= int_column_max(id_col):
            raise ValueError("an id its column cannot hold")
        return created, ident
    except (ValueError, OverflowError) as exc:  # bad base64, UTF-8 and JSON are ValueErrors too
        raise InvalidInput("the cursor is not one this API gave out", code="invalid_cursor") from exc


def where_given(stmt: Select, *filters: tuple) -> Select:
    """`stmt` narrowed to `column == value` for each (column, value) whose value was given (not None)."""
    for column, value in filters:
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


def page(session: Session, stmt: Select, model, limit: int, cursor: str | None) -> tuple[list, str | None]:
    """One page of `stmt`'s rows of `model` (which has `created_at` and `id`) and the next cursor."""
    created_col, id_col = model.created_at, model.id
    if cursor:
        created, ident = _decode(cursor, id_col)
        stmt = stmt.where(or_(created_col < created, and_(created_col == created, id_col < ident)))
    rows = list(session.scalars(stmt.order_by(created_col.desc(), id_col.desc()).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], _encode(last.created_at, last.id)
