"""The job runtime on the in-process worker: children that a parent waits for, and time limits."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import select

from models import JobEvent, JobStatus, Role
from services import jobs as job_service
from tasks.beat import reap_leases
from tests.support import load_job, make_user, wait_for_status
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


def test_a_parent_fans_out_waits_without_a_worker_and_sums_up_its_children(app, worker):
    owner_id, _ = make_user(app)
    job_id = submit(app, "tests.fanout", {"children": 3, "child": {"sleep_ms": 300}}, owner_id)
    parent = wait_for_status(app, job_id, timeout=30)
    assert parent.status == JobStatus.succeeded
    assert parent.result == {"children": 3, "succeeded": 3, "runs": 2}
    assert (parent.progress_done, parent.progress_total) == (3, 3)
    events = [e for _, e in trail(app, job_id)]
    assert events == ["queued", "running", "waiting", "resumed", "running", "succeeded"]
    with app.extensions["conveyor"].db.read() as s:
        children = job_service.children_of(s, job_id)
    assert {c.owner_id for c in children} == {owner_id} and all(c.status == JobStatus.succeeded for c in children)


def test_a_job_past_its_soft_time_limit_is_stopped_retried_and_failed(app, worker):
    job_id = submit(app, "tests.hang", {"seconds": 30})  # soft limit 1 s, hard 2 s
    job = wait_for_status(app, job_id, timeout=30)
    assert job.status == JobStatus.failed and job.attempts == 3
    assert job.error["code"] == "time_limit_exceeded"
    assert [e for _, e in trail(app, job_id)].count("retry") == 2


def test_a_hung_job_that_ignores_every_stop_loses_its_lease_at_its_hard_limit(app, worker):
    """On the threads pool nothing can interrupt it: its lease is not renewed past the hard limit (2 s),
    the reaper takes the job back, and the hung attempt can no longer write it when it wakes up."""
    job_id = submit(app, "tests.hang", {"seconds": 3, "cooperative": False})
    job = wait_for_status(app, job_id, {"running"})
    assert job.lease_expires_at <= job.deadline_at
    time.sleep(2.3)
    with app.app_context():
        assert reap_leases()["requeued"] == 1
    assert load_job(app, job_id).error["code"] == "time_limit_exceeded"
    time.sleep(1.2)  # the first attempt has returned: its success is fenced out
    again = load_job(app, job_id)
    assert again.attempts == 2 and again.status == JobStatus.running and again.result is None
    client = app.test_client()
    _, admin = make_user(app, Role.admin)
    assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=admin).json["cancel_requested"]


def test_a_database_error_reaches_neither_the_owner_nor_the_log_with_its_parameters(app, client, worker, caplog):
    owner_id, headers = make_user(app)
    secret = "$argon2id$v=19$m=65536,t=3,p=4$not-for-any-eyes"
    job_id = submit(app, "tests.leaky", {"user_id": owner_id, "secret": secret}, owner_id)
    assert wait_for_status(app, job_id).status == JobStatus.failed
    error = client.get(f"/api/v1/jobs/{job_id}", headers=headers).json["error"]
    # The owner reads a code and a safe message, never the exception's text (SQL, table names, values).
    assert error == {"code": "internal_error", "message": "the job failed unexpectedly",
                     "details": {"type": "IntegrityError"}}
    logged = "\n".join(r.getMessage() + str(r.exc_info and r.exc_info[1]) for r in caplog.records)
    assert "INSERT INTO users" in logged  # the detail stays in the log ...
    assert secret not in logged  # ... but not the statement's parameters (hide_parameters)
