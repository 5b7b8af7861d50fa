"""Keyset pagination, newest first, over (created_at, id): every list in the API pages this way."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import Session

from services.errors import InvalidInput

MAX_LIMIT = 200


def _encode(created_at: datetime, ident) -> str:
    raw = json.dumps([created_at.isoformat(), str(ident)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, id_type) -> tuple[datetime, object]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, ident = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return datetime.fromisoformat(created), id_type(ident)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise InvalidInput("the cursor is not one this API gave out", code="invalid_cursor") from exc


def page(session: Session, stmt: Select, model, limit: int, cursor: str | None) -> tuple[list, str | None]:
    """One page of `stmt`'s rows of `model` (which has `created_at` and `id`) and the next cursor."""
    created_col, id_col = model.created_at, model.id
    if cursor:
        created, ident = _decode(cursor, id_col.type.python_type)
        stmt = stmt.where(or_(created_col < created, and_(created_col == created, id_col < ident)))
    rows = list(session.scalars(stmt.order_by(created_col.desc(), id_col.desc()).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], _encode(last.created_at, last.id)
