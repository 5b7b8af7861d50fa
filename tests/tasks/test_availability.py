"""The stack stays available: a long job stalls nobody, beat's repairs run on time whatever the jobs do,
and a database that goes away costs clients a 503, not a 500, and nothing accepted is lost."""

from __future__ import annotations

import sys
import time
import uuid
from urllib.parse import urlparse

import pytest

from models import JobStatus
from tests.conftest import TEST_ENV, TMP
from tests.support import TcpProxy, load_job, make_user, register, wait_for_status
from worker.submission import enqueue

SQLITE = TEST_ENV["DATABASE_URL"].startswith("sqlite")


def timed(call) -> tuple[float, object]:
    started = time.perf_counter()
    answer = call()
    return time.perf_counter() - started, answer


def test_a_long_job_writing_in_steps_stalls_nobody(app, client, worker_processes):
    """While a job writes in steps for half a minute (on SQLite, whose single writer it shares), reads,
    logins, submissions and a cancel each answer within a second, and its progress shows as it goes."""
    seconds = 30 if SQLITE else 15
    worker_processes()
    user_id, auth = register(client, f"long-{uuid.uuid4().hex[:6]}@example.com")
    email = client.get("/api/v1/auth/me", headers=auth).json["email"]
    with app.app_context(), app.extensions["conveyor"].db.Session.begin() as s:
        job_id = enqueue(s, "tests.stepper", {"steps": seconds * 4, "sleep_ms": 250}, owner_id=user_id)[0].id
    wait_for_status(app, job_id, {"running"}, timeout=30)
    slowest, seen_progress = 0.0, []
    deadline = time.monotonic() + seconds - 3
    while time.monotonic() < deadline:
        for call in (lambda: client.get(f"/api/v1/jobs/{job_id}", headers=auth),
                     lambda: client.post("/api/v1/auth/login", json={"email": email, "password": "password123"}),
                     lambda: client.post("/api/v1/jobs/ping", json={}, headers=auth)):
            took, answer = timed(call)
            assert answer.status_code in (200, 202), answer.json
            slowest = max(slowest, took)
        seen_progress.append(client.get(f"/api/v1/jobs/{job_id}", headers=auth).json["progress"]["done"])
        time.sleep(1)
    took, cancelled = timed(lambda: client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth))
    assert cancelled.status_code == 200 and cancelled.json["cancel_requested"]
    assert slowest < 1.0 and took < 1.0, (slowest, took)
    assert seen_progress == sorted(seen_progress) and seen_progress[-1] > seen_progress[0]
    assert wait_for_status(app, job_id, timeout=10).status == JobStatus.cancelled


def test_beat_repairs_run_on_time_while_every_job_slot_is_busy(app, client, processes, worker_processes):
    """Beat's tasks have their own worker line: a pool busy with long jobs does not delay them."""
    fast = {"REAPER_INTERVAL_SECONDS": "1", "OUTBOX_INTERVAL_SECONDS": "1"}
    processes([sys.executable, "-m", "celery", "-A", "worker.app", "beat", "--loglevel", "WARNING",
               "--schedule", str(TMP / f"beat-{uuid.uuid4().hex}")], fast)
    processes([sys.executable, "-m", "worker", "maintenance", "--loglevel", "WARNING"], fast)
    job_line = worker_processes(concurrency=1)  # kept busy below
    _, auth = make_user(app)
    busy = client.post("/api/v1/jobs/ping", json={"sleep_ms": 30_000}, headers=auth).json["id"]
    wait_for_status(app, busy, {"running"}, timeout=30)
    victim = worker_processes(concurrency=1)
    job_id = client.post("/api/v1/jobs/ping", json={"sleep_ms": 30_000}, headers=auth).json["id"]
    wait_for_status(app, job_id, {"running"}, timeout=30)
    victim.kill9()
    killed = time.monotonic()
    requeued = wait_for_status(app, job_id, {"queued"}, timeout=15)
    # The lease (3 s) ran out and the reaper, due every second, took the job back.
    assert time.monotonic() - killed < 7 and requeued.error["code"] == "lease_expired"
    assert load_job(app, busy).status == JobStatus.running
    job_line.kill9()  # its job sleeps on: a warm shutdown would wait for it


@pytest.mark.skipif(SQLITE, reason="PostgreSQL only: SQLite is a file, with no server to lose")
def test_a_database_that_goes_away_costs_a_503_and_every_process_recovers(app, make_app, worker_processes):
    database = urlparse(TEST_ENV["DATABASE_URL"])
    link = TcpProxy(database.port)
    through_link = TEST_ENV["DATABASE_URL"].replace(f":{database.port}/", f":{link.port}/")
    try:
        web = make_app(DATABASE_URL=through_link).test_client()
        worker_processes(env={"DATABASE_URL": through_link})
        _, auth = make_user(app)
        running = web.post("/api/v1/jobs/ping", json={"steps": 4, "sleep_ms": 4000}, headers=auth).json["id"]
        wait_for_status(app, running, {"running"}, timeout=30)

        link.cut()
        for answer in (web.post("/api/v1/jobs/ping", json={}, headers=auth),
                       web.get("/api/v1/jobs", headers=auth)):
            assert answer.status_code == 503
            assert answer.json["error"]["code"] == "database_unavailable"
            assert int(answer.headers["Retry-After"]) > 0
            assert "psycopg" not in answer.get_data(as_text=True)
        time.sleep(3)  # the running job's lease (3 s) runs out meanwhile
        link.restore()

        later = web.post("/api/v1/jobs/ping", json={}, headers=auth)
        assert later.status_code == 202
        from tasks.beat import reap_leases

        with app.app_context():
            reap_leases()
        for job_id in (running, later.json["id"]):
            assert wait_for_status(app, job_id, timeout=40).status == JobStatus.succeeded
    finally:
        link.close()
