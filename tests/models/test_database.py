"""Read transactions never wait for a writer; write transactions wait for each other, then go on."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select, update

from models import User
from tests.support import register


def hold_the_write_lock(db, seconds: float) -> threading.Thread:
    """A writer that keeps its transaction (and, on SQLite, the database's write lock) open a while."""
    held = threading.Event()

    def write():
        with db.Session.begin() as s:
            s.execute(update(User).values(password_hash="held"))
            held.set()
            time.sleep(seconds)

    thread = threading.Thread(target=write)
    thread.start()
    held.wait(5)
    return thread


def test_a_read_does_not_wait_for_a_writer(db, client):
    register(client, "reader@example.com")
    writer = hold_the_write_lock(db, 3)
    started = time.perf_counter()
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 1
    took = time.perf_counter() - started
    writer.join()
    # (A login is a write now: it records a session. It waits for short writes like any other
    # write; tests/tasks/test_availability.py checks it answers while a long job writes in steps.)
    assert took < 1.5, took


def test_a_writer_waits_for_the_one_before_it_then_commits(db, client):
    register(client, "writer@example.com")
    first = hold_the_write_lock(db, 1)
    with db.Session.begin() as s:
        s.execute(update(User).values(password_hash="second"))
    first.join()
    with db.read() as s:
        assert s.scalar(select(User.password_hash)) == "second"
