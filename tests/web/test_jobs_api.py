"""The job API over HTTP with a real worker: lifecycle, idempotency, Prefer: wait, cancel, visibility."""

from __future__ import annotations

import uuid

import pytest

from models import JobStatus
from services import jobs as job_service
from services.jobs import after_commit
from worker.dispatch import publish
from tests.support import load_job, make_user, wait_for_status

pytestmark = pytest.mark.usefixtures("worker")


def submit(client, headers, body=None, **extra_headers):
    return client.post("/api/v1/jobs/ping", json=body if body is not None else {}, headers={**headers, **extra_headers})


def test_ping_lifecycle_over_http(app, client, auth):
    answer = submit(client, auth, {"steps": 3, "sleep_ms": 150})
    assert answer.status_code == 202
    job_id = answer.json["id"]
    assert answer.headers["Location"] == f"/api/v1/jobs/{job_id}"
    assert answer.json["status"] == "queued" and answer.json["kind"] == "ping"

    wait_for_status(app, job_id)
    job = client.get(answer.headers["Location"], headers=auth).json
    assert job["status"] == "succeeded"
    assert job["result"] == {"pong": True, "attempt": 1}
    assert job["progress"] == {"done": 3, "total": 3, "message": "step 3 of 3"}
    assert job["attempts"] == 1 and job["started_at"] and job["finished_at"]
    events = [e["event"] for e in client.get(f"/api/v1/jobs/{job_id}/events", headers=auth).json["items"]]
    assert events == ["queued", "running", "succeeded"]


def test_transient_failures_retry_with_backoff_until_success(app, client, auth):
    job_id = submit(client, auth, {"fail_times": 2}).json["id"]
    job = wait_for_status(app, job_id)
    assert job.status == JobStatus.succeeded and job.attempts == 3 and job.error is None
    with app.extensions["conveyor"].db.Session.begin() as s:
        assert [e.event for e in job_service.events_of(s, job.id)].count("retry") == 2


def test_transient_failures_fail_the_job_after_max_attempts(app, client, auth):
    job_id = submit(client, auth, {"fail_times": 5}).json["id"]
    job = wait_for_status(app, job_id)
    assert job.status == JobStatus.failed
    assert job.attempts == 3  # JOB_MAX_ATTEMPTS in the test environment
    assert job.error["code"] == "ping_transient"


def test_idempotency_key_returns_the_same_job(app, client, auth):
    first = submit(client, auth, {"sleep_ms": 10}, **{"Idempotency-Key": "order-42"})
    again = submit(client, auth, {"sleep_ms": 10}, **{"Idempotency-Key": "order-42"})
    assert first.status_code == 202 and again.status_code == 200
    assert again.json["id"] == first.json["id"]
    listed = client.get("/api/v1/jobs", headers=auth).json["items"]
    assert [j["id"] for j in listed] == [first.json["id"]]


def test_idempotency_key_with_another_payload_is_a_conflict(client, auth):
    submit(client, auth, {"sleep_ms": 10}, **{"Idempotency-Key": "k-1"})
    clash = submit(client, auth, {"sleep_ms": 11}, **{"Idempotency-Key": "k-1"})
    assert clash.status_code == 409
    assert clash.json["error"]["code"] == "idempotency_key_reused"


def test_idempotency_keys_belong_to_their_user(app, client, auth):
    _, other = make_user(app)
    mine = submit(client, auth, {}, **{"Idempotency-Key": "shared"})
    theirs = submit(client, other, {"sleep_ms": 5}, **{"Idempotency-Key": "shared"})
    assert theirs.status_code == 202 and theirs.json["id"] != mine.json["id"]


def test_prefer_wait_returns_the_finished_job(client, auth):
    answer = submit(client, auth, {"sleep_ms": 100}, Prefer="wait=10")
    assert answer.status_code == 200
    assert answer.json["status"] == "succeeded"
    assert answer.headers["Preference-Applied"] == "wait=10"


def test_prefer_wait_that_runs_out_still_answers_202(client, auth):
    answer = submit(client, auth, {"sleep_ms": 3000}, Prefer="wait=1")
    assert answer.status_code == 202
    assert answer.json["status"] in ("queued", "running")


def test_cancel_a_queued_job_at_once_and_the_worker_never_runs_it(app, client, auth, customer, celery_app):
    # A job whose message has not reached the broker yet: written, not published.
    with app.extensions["conveyor"].db.Session.begin() as s:
        job, _ = job_service.submit(s, kind="ping", owner_id=customer[0], queue="default", payload={},
                                    max_attempts=3)
        after_commit.take(s)
    answer = client.post(f"/api/v1/jobs/{job.id}/cancel", headers=auth)
    assert answer.status_code == 200 and answer.json["status"] == "cancelled"
    assert publish(celery_app, job.id, "ping")
    # Let the worker see the message; the job must stay cancelled and never start.
    marker = submit(client, auth, {}, Prefer="wait=10")
    assert marker.json["status"] == "succeeded"
    cancelled = load_job(app, job.id)
    assert cancelled.status == JobStatus.cancelled and cancelled.attempts == 0 and cancelled.started_at is None


def test_cancel_a_running_job_stops_it_between_steps(app, client, auth):
    job_id = submit(client, auth, {"steps": 100, "sleep_ms": 10_000}).json["id"]
    wait_for_status(app, job_id, {"running"})
    asked = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth)
    assert asked.status_code == 200 and asked.json["cancel_requested"] is True
    job = wait_for_status(app, job_id, timeout=5)
    assert job.status == JobStatus.cancelled
    assert job.progress_done < 100 and job.error["code"] == "cancelled"


def test_cancel_a_finished_job_is_a_conflict(client, auth):
    job_id = submit(client, auth, {}, Prefer="wait=10").json["id"]
    answer = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth)
    assert answer.status_code == 409 and answer.json["error"]["code"] == "job_finished"


def test_another_users_job_is_not_found(app, client, auth):
    job_id = submit(client, auth, {}).json["id"]
    _, stranger = make_user(app)
    for method, path in (("get", ""), ("get", "/events"), ("post", "/cancel")):
        answer = getattr(client, method)(f"/api/v1/jobs/{job_id}{path}", headers=stranger)
        assert answer.status_code == 404, path
        assert answer.json["error"]["code"] == "job_not_found"
    assert client.get(f"/api/v1/jobs/{uuid.uuid4()}", headers=auth).status_code == 404


def test_admin_sees_every_job(app, client, auth):
    job_id = submit(client, auth, {}).json["id"]
    from models import Role

    _, admin = make_user(app, Role.admin)
    assert client.get(f"/api/v1/jobs/{job_id}", headers=admin).status_code == 200
    assert job_id in [j["id"] for j in client.get("/api/v1/jobs", headers=admin).json["items"]]


def test_list_filters_and_pages_newest_first(app, client, auth):
    ids = [submit(client, auth, {"sleep_ms": i}, Prefer="wait=10").json["id"] for i in range(5)]
    seen, cursor = [], None
    while True:
        query = {"limit": 2, "kind": "ping", "status": "succeeded"} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/jobs", headers=auth, query_string=query).json
        assert len(page["items"]) <= 2
        seen += [j["id"] for j in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    assert client.get("/api/v1/jobs", headers=auth, query_string={"status": "failed"}).json["items"] == []
    bad = client.get("/api/v1/jobs", headers=auth, query_string={"cursor": "nonsense"})
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_cursor"
