"""A job's live stream over Server-Sent Events, with a real worker and Redis: every event in order,
resumable with Last-Event-ID, and the end."""

from __future__ import annotations

import threading

import pytest

from tests.support import make_user, sse_events, wait_for_status

pytestmark = pytest.mark.usefixtures("worker")


def read_stream(client, job_id, headers, *, stop_after=None):
    """The events of the job's stream, until `end` (or after `stop_after` events, when the client leaves)."""
    answer = client.get(f"/api/v1/jobs/{job_id}/stream", headers=headers, buffered=False)
    assert answer.status_code == 200 and answer.mimetype == "text/event-stream"
    lines, events = [], []
    try:
        for chunk in answer.response:
            lines += (chunk.decode() if isinstance(chunk, bytes) else chunk).split("\n")
            events = sse_events(lines)
            if (events and events[-1][1] == "end") or (stop_after and len(events) >= stop_after):
                break
    finally:
        answer.close()
    return events


def stepper(client, auth, steps=3, sleep_ms=300):
    answer = client.post("/api/v1/jobs/ping", json={}, headers=auth)  # warms the worker
    wait_for_status(client.application, answer.json["id"])
    return submit_kind(client.application, auth, "tests.stepper", {"steps": steps, "sleep_ms": sleep_ms})


def submit_kind(app, auth, kind, payload):
    """A test-only kind has no endpoint: submit it as a view would, through the runtime."""
    from worker.submission import enqueue

    user_id = auth["user_id"]
    with app.app_context(), app.extensions["conveyor"].db.Session.begin() as s:
        job, _ = enqueue(s, kind, payload, owner_id=user_id)
    return str(job.id)


@pytest.fixture
def user(app):
    user_id, headers = make_user(app)
    return {**headers, "user_id": user_id}


def test_a_stream_tells_every_event_in_order_and_ends(app, client, user):
    headers = {"Authorization": user["Authorization"]}
    job_id = stepper(client, user)
    events = read_stream(client, job_id, headers)
    names = [e for _, e, _ in events]
    assert names[0] == "snapshot" and names[-2:] == ["succeeded", "end"]
    progress = [data["done"] for _, name, data in events if name == "progress"]
    assert progress == [1, 2, 3]
    ids = [i for i, _, _ in events]
    assert all(ids) and ids[1:-1] == sorted(ids[1:-1], key=lambda i: tuple(map(int, i.split("-"))))
    assert events[-1][2]["status"] == "succeeded" and events[-1][2]["progress"]["done"] == 3


def test_a_stream_resumes_after_its_last_event_id_without_gaps_or_repeats(app, client, user):
    headers = {"Authorization": user["Authorization"]}
    job_id = stepper(client, user, steps=4)
    first = read_stream(client, job_id, headers, stop_after=3)  # snapshot and two more, then the client leaves
    rest = read_stream(client, job_id, {**headers, "Last-Event-ID": first[-1][0]})
    assert rest[0][1] != "snapshot" and rest[-1][1] == "end"
    progress = [data["done"] for _, name, data in first + rest if name == "progress"]
    assert progress == list(range(progress[0], 5))  # no gap, no repeat, up to the last step
    with app.app_context():
        stream = [e.id for e in app.extensions["conveyor"].events.after(job_id, "0-0")]
    told = [event_id for event_id, _, _ in first[1:] + rest[:-1]]  # all but the snapshot and the end
    assert told == stream[-len(told):]


def test_the_stream_of_a_finished_job_is_a_snapshot_and_the_end(client, user):
    headers = {"Authorization": user["Authorization"]}
    job_id = client.post("/api/v1/jobs/ping", json={}, headers={**headers, "Prefer": "wait=10"}).json["id"]
    events = read_stream(client, job_id, headers)
    assert [e for _, e, _ in events] == ["snapshot", "end"]
    assert events[1][2]["status"] == "succeeded"


def test_another_users_stream_does_not_exist(app, client, user):
    headers = {"Authorization": user["Authorization"]}
    job_id = client.post("/api/v1/jobs/ping", json={}, headers=headers).json["id"]
    _, stranger = make_user(app)
    assert client.get(f"/api/v1/jobs/{job_id}/stream", headers=stranger).status_code == 404
    assert client.get(f"/api/v1/jobs/{job_id}/stream").status_code == 401


def test_prefer_wait_is_woken_by_the_jobs_end_not_by_polling(app, client, user, db):
    """The wait costs a handful of queries, however long the job takes (it used to poll every few ms)."""
    from sqlalchemy import event

    headers = {"Authorization": user["Authorization"], "Prefer": "wait=10"}
    statements = []

    def count(conn, *_):
        if threading.current_thread() is threading.main_thread():
            statements.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        answer = client.post("/api/v1/jobs/ping", json={"sleep_ms": 1500}, headers=headers)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert answer.status_code == 200 and answer.json["status"] == "succeeded"
    assert len(statements) <= 8, len(statements)
