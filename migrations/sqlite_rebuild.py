"""SQLite's batch mode rebuilds a table (copy, drop, rename); dropping a table that other tables'
rows reference fails while foreign keys are enforced. SQLite's own recipe for such a change:
enforcement off (possible only between transactions), the change, a foreign key check, then on."""

from __future__ import annotations

from contextlib import contextmanager

from alembic import op


@contextmanager
def foreign_keys_off():
    """Around a batch change of a referenced table; does nothing on PostgreSQL."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _between_transactions("PRAGMA foreign_keys = OFF")
    try:
        yield
        if sqlite and op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
            raise RuntimeError("a foreign key does not hold after rebuilding the table")
    finally:
        if sqlite:
            _between_transactions("PRAGMA foreign_keys = ON")


def _between_transactions(pragma: str) -> None:
    """Our SQLite connections open a transaction (BEGIN IMMEDIATE) even in Alembic's autocommit
    block; end it there, so that the pragma applies."""
    with op.get_context().autocommit_block():
        raw = op.get_bind().connection.dbapi_connection
        if raw.in_transaction:
            raw.execute("COMMIT")
        raw.execute(pragma)
