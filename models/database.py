"""The engine and the one sessionmaker, tuned per backend."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker


@dataclass(frozen=True)
class Database:
    engine: Engine
    Session: sessionmaker[Session]

    def dispose_after_fork(self) -> None:
        """A forked child must not reuse its parent's sockets (Superset's worker does the same)."""
        self.engine.dispose(close=False)


def skip_flush_wait(session: Session) -> None:
    """PostgreSQL: let this transaction's commit return before its WAL reaches the disk.

    Only for writes whose loss in a crash is harmless, such as a job's claim or lease: a later
    durable commit flushes them first, and a lost claim only means the job runs again.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, issue BEGIN, so that we can make it IMMEDIATE below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when
        # another writer got in between; taking the write lock up front makes busy_timeout apply.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_database(url: str, pool_size: int = 10, max_overflow: int = 10) -> Database:
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine)
    else:
        engine = create_engine(
            url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True, pool_recycle=1800
        )
    return Database(engine=engine, Session=sessionmaker(engine, expire_on_commit=False))
