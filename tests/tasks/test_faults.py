"""Crashes and outages: a worker killed with SIGKILL, a broker that is away, a message delivered twice."""

from __future__ import annotations

import time

from models import JobStatus
from services import jobs as job_service
from tasks.beat import dispatch_outbox, reap_leases
from tests.conftest import TEST_ENV
from tests.support import TcpProxy, load_job, wait_for_status


def events(app, job_id) -> list[tuple[int, str]]:
    with app.extensions["conveyor"].db.Session.begin() as s:
        return [(e.attempt, e.event) for e in job_service.events_of(s, job_id)]


def test_a_job_whose_worker_is_killed_mid_run_finishes_exactly_once(app, client, auth, worker_processes):
    victim = worker_processes()
    job_id = client.post("/api/v1/jobs/ping", json={"steps": 4, "sleep_ms": 2000}, headers=auth).json["id"]
    wait_for_status(app, job_id, {"running"}, timeout=30)
    victim.kill9()  # the main process and its pool child: no ack, no reject, the message stays unacked

    # The lease (3 s here) runs out because nobody renews it; beat's reaper hands the job on.
    time.sleep(3.5)
    with app.app_context():
        assert reap_leases() == {"requeued": 1, "failed": 0}
    worker_processes()
    job = wait_for_status(app, job_id, timeout=30)

    assert job.status == JobStatus.succeeded and job.attempts == 2
    trail = events(app, job.id)
    assert [e for _, e in trail].count("succeeded") == 1
    assert (1, "lease_expired") in trail and (2, "succeeded") in trail
    assert job.result == {"pong": True, "attempt": 2}


def test_a_job_whose_pool_child_is_killed_is_redelivered_and_finishes_once(app, client, auth, worker_processes):
    import os
    import signal

    proc = worker_processes()
    job_id = client.post("/api/v1/jobs/ping", json={"steps": 2, "sleep_ms": 1000}, headers=auth).json["id"]
    wait_for_status(app, job_id, {"running"}, timeout=30)
    children = open(f"/proc/{proc.proc.pid}/task/{proc.proc.pid}/children").read().split()
    os.kill(int(children[0]), signal.SIGKILL)  # the parent sees WorkerLostError and requeues the message

    time.sleep(3.5)
    with app.app_context():
        reap_leases()
    job = wait_for_status(app, job_id, timeout=30)
    assert job.status == JobStatus.succeeded
    assert [e for _, e in events(app, job.id)].count("succeeded") == 1


def test_a_job_submitted_while_the_broker_is_away_finishes_once_it_is_back(app, worker_processes, make_app):
    from urllib.parse import urlparse

    from tests.support import make_user

    broker = urlparse(TEST_ENV["BROKER_URL"])
    link = TcpProxy(broker.port)
    web = make_app(BROKER_URL=f"redis://127.0.0.1:{link.port}{broker.path}")
    _, auth = make_user(web)
    link.cut()
    try:
        answer = web.test_client().post("/api/v1/jobs/ping", json={}, headers=auth)
        assert answer.status_code == 202
        job_id = answer.json["id"]
        job = load_job(app, job_id)
        assert job.status == JobStatus.queued and job.dispatched_at is None

        worker_processes()
        link.restore()
        with web.app_context():
            assert dispatch_outbox() == 1
        assert wait_for_status(app, job_id, timeout=30).status == JobStatus.succeeded
        with web.app_context():
            assert dispatch_outbox() == 0
    finally:
        link.close()


def test_a_redelivered_message_of_a_finished_job_changes_nothing(app, client, auth, celery_app, worker_processes):
    worker_processes()
    job_id = client.post("/api/v1/jobs/ping", json={}, headers=auth).json["id"]
    done = wait_for_status(app, job_id, timeout=30)
    trail = events(app, done.id)

    celery_app.send_task("conveyor.jobs.ping", args=[job_id], queue="default", task_id=job_id)
    # A second job behind the duplicate: once it is done, the worker has consumed the duplicate.
    marker = client.post("/api/v1/jobs/ping", json={}, headers=auth).json["id"]
    wait_for_status(app, marker, timeout=30)

    again = load_job(app, job_id)
    assert (again.status, again.attempts, again.finished_at, again.result) == (
        done.status, done.attempts, done.finished_at, done.result)
    assert events(app, done.id) == trail
