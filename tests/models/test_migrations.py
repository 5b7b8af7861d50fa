"""Migrations on databases that already hold rows, PostgreSQL and SQLite: rebuilt tables keep the
rows that reference them, users' branch numbers become branches, and the way back works too."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from config import ROOT
from tests.conftest import TEST_ENV, TMP
from tests.services_up import POSTGRES_URL


@pytest.fixture
def empty_database():
    if TEST_ENV["DATABASE_URL"].startswith("sqlite"):
        path = TMP / "migration.db"
        path.unlink(missing_ok=True)
        yield f"sqlite:///{path}"
        return
    import psycopg

    name = f"conveyor_migration_{os.getpid()}"
    admin = POSTGRES_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_users_keep_their_branch_through_0006_and_back(empty_database):
    config = Config(str(Path(ROOT) / "alembic.ini"))
    config.attributes.update(database_url=empty_database, configure_logging=False)
    command.upgrade(config, "0003")
    engine = create_engine(empty_database)
    sqlite = empty_database.startswith("sqlite")
    if sqlite:
        from sqlalchemy import event

        event.listen(engine, "connect", lambda conn, _: conn.execute("PRAGMA foreign_keys=ON"))
    try:
        with engine.begin() as conn:
            for n, branch in enumerate((7, 7, None)):
                conn.execute(text("INSERT INTO users (email, password_hash, role, branch_id, created_at) "
                                  "VALUES (:email, 'h', 'seller', :branch, CURRENT_TIMESTAMP)"),
                             {"email": f"u{n}@example.com", "branch": branch})
            # Rows elsewhere that reference users: SQLite's rebuild of `users` must keep them valid.
            conn.execute(text("INSERT INTO accounts (owner_id, kind, balance, pending, created_at) "
                              "VALUES (1, 'granted', 0, 0, CURRENT_TIMESTAMP)"))
        command.upgrade(config, "head")
        with engine.begin() as conn:
            assert conn.execute(text("SELECT id, code FROM branches")).all() == [(7, "B7")]
            # The next branch gets a fresh id (PostgreSQL's sequence moved past the kept ones).
            new = conn.execute(text("INSERT INTO branches (name, code, timezone, active, created_at) "
                                    "VALUES ('New', 'N1', 'UTC', true, CURRENT_TIMESTAMP) RETURNING id")).scalar()
            assert new == 8
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text("UPDATE users SET branch_id = 99 WHERE id = 1"))
        command.downgrade(config, "0003")
        with engine.begin() as conn:
            conn.execute(text("UPDATE users SET branch_id = 99 WHERE id = 1"))
            assert conn.execute(text("SELECT count(*) FROM accounts")).scalar() == 1
    finally:
        engine.dispose()


def test_jobs_keep_their_events_through_0003(empty_database):
    """0003 rebuilds `jobs` on SQLite; the events that reference a job must survive it, both ways."""
    config = Config(str(Path(ROOT) / "alembic.ini"))
    config.attributes.update(database_url=empty_database, configure_logging=False)
    command.upgrade(config, "0002")
    engine = create_engine(empty_database)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO users (email, password_hash, role, created_at) "
                              "VALUES ('u@example.com', 'h', 'customer', CURRENT_TIMESTAMP)"))
            conn.execute(text(
                "INSERT INTO jobs (id, kind, owner_id, queue, status, payload, attempts, max_attempts, "
                "progress_done, cancel_requested, available_at, created_at) VALUES "
                "('00000000000000000000000000000001', 'ping', 1, 'default', 'succeeded', '{}', 1, 5, 0, false, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
            conn.execute(text("INSERT INTO job_events (job_id, attempt, event, at) "
                              "VALUES ('00000000000000000000000000000001', 1, 'succeeded', CURRENT_TIMESTAMP)"))
        command.upgrade(config, "head")
        command.downgrade(config, "0002")
        with engine.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM job_events")).scalar() == 1
    finally:
        engine.dispose()
