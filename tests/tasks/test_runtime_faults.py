"""The job runtime with real worker processes: steps that resume after kill -9, Celery's time limit on
the prefork pool, a broker blip, and an I/O pool that does not hold a connection per job."""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlparse

from sqlalchemy import func, select

from models import JobEvent, JobStatus
from services import jobs as job_service
from tasks.beat import reap_leases
from tests.conftest import TEST_ENV
from tests.support import TcpProxy, first_pass_only, wait_for_status
from worker.submission import enqueue


def submit(app, kind: str, payload: dict, owner_id: int | None = None) -> uuid.UUID:
    with app.app_context(), app.extensions["conveyor"].db.Session.begin() as s:
        return enqueue(s, kind, payload, owner_id=owner_id)[0].id


def marks(app, job_id) -> list[str]:
    with app.extensions["conveyor"].db.read() as s:
        return [m.detail for m in s.scalars(select(JobEvent).where(JobEvent.job_id == job_id,
                                                                   JobEvent.event == "mark").order_by(JobEvent.id))]


def trail(app, job_id) -> list[tuple[int, str]]:
    with app.extensions["conveyor"].db.read() as s:
        return [(e.attempt, e.event) for e in job_service.events_of(s, job_id)]


def test_a_job_killed_between_steps_resumes_from_its_last_step_and_writes_each_once(app, worker_processes):
    victim = worker_processes()
    job_id = submit(app, "tests.stepper", {"steps": 8, "sleep_ms": 400})
    deadline = time.monotonic() + 30
    while len(marks(app, job_id)) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    victim.kill9()
    time.sleep(3.5)  # the lease (3 s here) runs out
    with app.app_context():
        assert reap_leases()["requeued"] == 1
    worker_processes()
    job = wait_for_status(app, job_id, timeout=30)
    assert job.status == JobStatus.succeeded and job.attempts == 2
    assert marks(app, job_id) == [str(k) for k in range(8)]  # every step's row, each once
    assert job.result["resumed_from"] >= 3 and job.checkpoint == {"next": 8}
    assert (job.progress_done, job.progress_total) == (8, 8)


def test_celery_stops_a_deaf_job_at_its_soft_limit_on_the_prefork_pool(app, worker_processes):
    worker_processes()
    job_id = submit(app, "tests.hang", {"seconds": 30, "cooperative": False})
    job = wait_for_status(app, job_id, timeout=40)
    assert job.status == JobStatus.failed and job.error["code"] == "time_limit_exceeded" and job.attempts == 3


@first_pass_only
def test_running_jobs_survive_a_broker_blip_and_finish_once(app, worker_processes):
    broker = urlparse(TEST_ENV["BROKER_URL"])
    link = TcpProxy(broker.port)
    try:
        worker_processes(env={"BROKER_URL": f"redis://127.0.0.1:{link.port}{broker.path}"})
        job_id = submit(app, "ping", {"steps": 6, "sleep_ms": 4000})
        wait_for_status(app, job_id, {"running"}, timeout=30)
        link.cut()
        time.sleep(2)
        link.restore()
        job = wait_for_status(app, job_id, timeout=30)
    finally:
        link.close()
    assert job.status == JobStatus.succeeded and job.attempts == 1
    assert [e for _, e in trail(app, job_id)] == ["queued", "running", "succeeded"]


def test_an_io_pool_runs_many_more_jobs_than_it_has_database_connections(app, worker_processes):
    """40 jobs that mostly wait, at once, on a gevent pool whose process may open 3 connections."""
    worker_processes(concurrency=50, pool="gevent", env={"DB_POOL_SIZE": "2", "DB_MAX_OVERFLOW": "1"})
    submit(app, "ping", {})  # the worker is up once this is done
    wait_for_status(app, submit(app, "ping", {}), timeout=30)
    started = time.monotonic()
    ids = [submit(app, "ping", {"steps": 4, "sleep_ms": 2000}) for _ in range(40)]
    jobs = [wait_for_status(app, i, timeout=60) for i in ids]
    assert all(j.status == JobStatus.succeeded and j.attempts == 1 for j in jobs)
    assert time.monotonic() - started < 20  # concurrently: one after the other would take 80 s
    with app.extensions["conveyor"].db.read() as s:
        running_together = s.scalar(select(func.count()).where(JobEvent.event == "running"))
    assert running_together >= 40
