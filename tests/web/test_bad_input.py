"""Whatever a client sends, it gets a JSON error with the right 4xx, and nothing is written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models import Job

PING = "/api/v1/jobs/ping"


def jobs_written(db) -> int:
    with db.Session.begin() as s:
        return s.scalar(select(func.count()).select_from(Job))


def assert_envelope(answer, status, code=None):
    assert answer.status_code == status, answer.data
    assert answer.is_json
    error = answer.json["error"]
    assert set(error) == {"code", "message", "details"}
    if code:
        assert error["code"] == code


@pytest.mark.parametrize("body", [
    {"sleep_ms": "100"}, {"sleep_ms": 1.5}, {"sleep_ms": -1}, {"sleep_ms": 60_001}, {"sleep_ms": True},
    {"steps": None}, {"fail_times": 10**30}, {"unknown": 1}, [1, 2], "ping", 42,
])
def test_wrong_types_and_values_are_422(client, auth, db, body):
    assert_envelope(client.post(PING, json=body, headers=auth), 422, "validation_error")
    assert jobs_written(db) == 0


def test_malformed_json_is_400(client, auth, db):
    answer = client.post(PING, data='{"sleep_ms": 1', headers={**auth, "Content-Type": "application/json"})
    assert_envelope(answer, 400, "malformed_json")
    assert jobs_written(db) == 0


def test_a_body_that_is_not_json_is_415(client, auth, db):
    answer = client.post(PING, data="sleep_ms=1", headers={**auth, "Content-Type": "application/x-www-form-urlencoded"})
    assert_envelope(answer, 415, "unsupported_media_type")
    assert jobs_written(db) == 0


def test_an_oversized_body_is_413(app, client, auth, db):
    limit = app.extensions["conveyor"].settings.max_request_bytes
    body = '{"sleep_ms": 1, "pad": "' + "x" * limit + '"}'
    answer = client.post(PING, data=body, headers={**auth, "Content-Type": "application/json"})
    assert_envelope(answer, 413, "payload_too_large")
    assert jobs_written(db) == 0


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "naïve"])
def test_a_malformed_idempotency_key_is_400(client, auth, db, key):
    answer = client.post(PING, json={}, headers={**auth, "Idempotency-Key": key})
    assert_envelope(answer, 400, "invalid_idempotency_key")
    assert jobs_written(db) == 0


def test_unknown_paths_methods_and_ids(client, auth):
    assert_envelope(client.get("/api/v1/nothing-here", headers=auth), 404, "not_found")
    assert_envelope(client.get("/api/v1/jobs/not-a-uuid", headers=auth), 404, "not_found")
    answer = client.delete("/api/v1/jobs/ping", headers=auth)
    assert_envelope(answer, 405, "method_not_allowed")
    assert "POST" in answer.headers["Allow"]


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 201}, {"limit": "x"}, {"status": "sleeping"}])
def test_bad_list_queries_are_422(client, auth, query):
    assert_envelope(client.get("/api/v1/jobs", headers=auth, query_string=query), 422, "validation_error")


def test_an_unhandled_error_is_a_500_envelope(app, client, auth, monkeypatch):
    from services import jobs as job_service

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(job_service, "list_for", explode)
    answer = client.get("/api/v1/jobs", headers=auth)
    assert_envelope(answer, 500, "internal_error")
    assert "boom" not in answer.get_data(as_text=True)
