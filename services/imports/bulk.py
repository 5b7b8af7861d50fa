"""Set-based SQL for a batch of rows: many new rows in one go (COPY on PostgreSQL, where psycopg's executemany
would send a statement per row; Core executemany elsewhere, SQLite's being a C loop), many rows changed in
one UPDATE (from arrays of the new values on PostgreSQL), and membership in a batch's keys (one array
parameter on PostgreSQL instead of thousands of bound values)."""

from __future__ import annotations

import enum
import json
from operator import itemgetter

from sqlalchemy import JSON, ColumnElement, Enum, String, Table, bindparam, cast, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session


def insert_rows(session: Session, table: Table, rows: list[dict]) -> None:
    """Insert `rows` (dicts with the same keys) into `table` within the session's transaction."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(table), rows)
        return
    columns = list(rows[0])
    values_of = itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
    convert = [(index, text) for index, name in enumerate(columns) if (text := _copy_text(table.c[name].type))]
    cursor = session.connection().connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            values = values_of(row)
            if convert:
                values = list(values)
                for index, text in convert:
                    values[index] = text(values[index])
            copy.write_row(values)


def update_rows(session: Session, table: Table, rows: list[dict]) -> None:
    """Set each row's columns (dicts with the same keys: `id` and the columns to set) in the session's
    transaction: on PostgreSQL one `UPDATE ... FROM (SELECT unnest(:ids), unnest(:values) ...)`."""
    if not rows:
        return
    names = [name for name in rows[0] if name != "id"]
    if session.get_bind().dialect.name != "postgresql":
        session.execute(update(table).where(table.c.id == bindparam("pk"))
                        .values({name: bindparam(f"new_{name}") for name in names}),
                        [{"pk": row["id"], **{f"new_{name}": row[name] for name in names}} for row in rows])
        return
    arrays = []
    for name in ("id", *names):
        column_type, text = table.c[name].type, _copy_text(table.c[name].type)
        values = [row[name] if text is None else text(row[name]) for row in rows]
        arrays.append(func.unnest(bindparam(f"new_{name}", values,
                                            type_=ARRAY(String if text else column_type))).label(name))
    new = select(*arrays).subquery("new")
    session.execute(update(table).where(table.c.id == new.c.id).values(
        {name: cast(new.c[name], table.c[name].type) if _copy_text(table.c[name].type) else new.c[name]
         for name in names}))


def _copy_text(column_type):
    """How a value of this column goes into COPY, when psycopg's own adaptation is not it."""
    if isinstance(column_type, JSON):
        return json.dumps
    if isinstance(column_type, Enum):
        return lambda value: value.value if isinstance(value, enum.Enum) else value
    return None


def one_of(session: Session, column, values: list) -> ColumnElement[bool]:
    """`column IN values`; on PostgreSQL `column IN (SELECT unnest(:array))`, which the planner answers
    through the column's index whatever its statistics say (`= ANY(:array)` may become a scan of the
    table comparing each row with every element: quadratic over an import)."""
    if session.get_bind().dialect.name != "postgresql":
        return column.in_(values)
    return column.in_(select(func.unnest(bindparam(None, list(values), type_=ARRAY(column.type)))))
