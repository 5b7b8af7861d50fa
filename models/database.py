"""The engine and the one sessionmaker, tuned per backend; read and write transactions.

`db.Session.begin()` is a write transaction; `db.read()` a read-only one. On SQLite the difference
matters: a write transaction takes the single write lock at BEGIN (so that busy waiting applies to
it), a read transaction never takes it and, in WAL mode, never waits for a writer.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

READ_ONLY = "conveyor_read_only"
# How long a write transaction waits for SQLite's write lock before it gives up.
SQLITE_LOCK_WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class Database:
    engine: Engine
    Session: sessionmaker[Session]
    # PostgreSQL: connections whose commits return before their WAL reaches the disk (see autocommit).
    unsynced_engine: Engine | None = None

    @cached_property
    def _read_engine(self) -> Engine:
        # PostgreSQL: in autocommit mode, so that a read costs its statements' round trips and no
        # BEGIN and COMMIT (each statement sees the database as it is when it runs).
        options = {READ_ONLY: True} if self.is_sqlite else {READ_ONLY: True, "isolation_level": "AUTOCOMMIT"}
        return self.engine.execution_options(**options)

    @cached_property
    def _read_snapshot_engine(self) -> Engine:
        return self.engine.execution_options(**{READ_ONLY: True, "isolation_level": "REPEATABLE READ"})

    @cached_property
    def _autocommit_engine(self) -> Engine:
        return self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def read(self, *, snapshot: bool = False) -> Iterator[Session]:
        """Reads: never take a lock a writer waits for, never write.

        `snapshot`: every query sees the same moment (PostgreSQL's REPEATABLE READ transaction; a
        SQLite read transaction always does), for reads that must agree with each other, such as a
        reconciliation. Without it, on PostgreSQL each statement sees its own moment.
        """
        bind = self._read_snapshot_engine if snapshot and not self.is_sqlite else self._read_engine
        with self.Session(bind=bind) as session, session.begin():
            yield session

    @contextmanager
    def autocommit(self, *, durable: bool = True) -> Iterator[Session]:
        """Statements that each commit on their own: on PostgreSQL without the round trips of BEGIN
        and COMMIT (one statement is atomic alone); on SQLite, one write transaction.

        `durable=False`: PostgreSQL returns before the commit reaches the disk. Only for writes whose
        loss in a crash is harmless, such as a job's claim or lease: a later durable commit flushes
        them first, and a lost claim only means that the job runs again.
        """
        if self.is_sqlite:
            bind = self.engine
        else:
            bind = self._autocommit_engine if durable else self.unsynced_engine
        with self.Session(bind=bind) as session, session.begin():
            yield session

    def dispose_after_fork(self) -> None:
        """A forked child must not reuse its parent's sockets (Superset's worker does the same)."""
        for engine in (self.engine, self.unsynced_engine):
            if engine is not None:
                engine.dispose(close=False)


def _begin_immediate(dbapi_connection) -> None:
    """Take SQLite's write lock, waiting for it in short sleeps.

    SQLite's own busy handler would wait inside C: under gevent that stops every greenlet of the
    process. `time.sleep` here yields to them (gevent patches it) and costs nothing more in threads.
    """
    deadline, pause = time.monotonic() + SQLITE_LOCK_WAIT_SECONDS, 0.001
    while True:
        try:
            dbapi_connection.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, issue BEGIN, so that we choose its kind below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Only the rare reader that meets a WAL reset waits here; writers wait in _begin_immediate.
        cursor.execute("PRAGMA busy_timeout=100")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN DEFERRED")
            return
        # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when
        # another writer got in between; taking the write lock up front avoids that.
        try:
            _begin_immediate(connection.connection.dbapi_connection)
        except sqlite3.OperationalError as exc:
            raise OperationalError("BEGIN IMMEDIATE", (), exc) from exc


def make_database(url: str, pool_size: int = 10, max_overflow: int = 10, *, pre_ping: bool = True) -> Database:
    """`pre_ping` tests each pooled connection as it is handed out: the web's choice, so that a
    request after a database restart does not fail; workers retry instead and skip the round trip."""
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 0.1},
                               pool_size=pool_size, max_overflow=max_overflow, hide_parameters=True)
        _configure_sqlite(engine)
    else:
        options = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_pre_ping": pre_ping,
                   "pool_recycle": 1800, "pool_use_lifo": True, "hide_parameters": True}
        engine = create_engine(url, **options)
        unsynced = create_engine(url, isolation_level="AUTOCOMMIT",
                                 connect_args={"options": "-c synchronous_commit=off"}, **options)
        return Database(engine=engine, Session=sessionmaker(engine, expire_on_commit=False), unsynced_engine=unsynced)
    return Database(engine=engine, Session=sessionmaker(engine, expire_on_commit=False))
