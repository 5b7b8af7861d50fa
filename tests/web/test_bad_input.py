"""Whatever a client sends, it gets a JSON error with the right 4xx, and nothing is written."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from sqlalchemy import func, select

from models import Job, Role, User
from tests.support import make_user
from web.submit import _prefer_wait

PING = "/api/v1/jobs/ping"
DEEP = "[" * 1000 + "]" * 1000  # 2 KB that nest deeper than Python's recursion limit
LONG_NUMBER = "1" * 4301  # past Python's limit on the digits of an int it converts


def rows(db, model) -> int:
    with db.Session.begin() as s:
        return s.scalar(select(func.count()).select_from(model))


def jobs_written(db) -> int:
    return rows(db, Job)


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


@pytest.mark.parametrize("path", ["/api/v1/auth/register", "/api/v1/auth/login"])
@pytest.mark.parametrize("body", [
    '{"email": "a@example.com", "password": ' + DEEP + '}', DEEP,
    '{"email": "a@example.com", "password": ' + LONG_NUMBER + '}',
])
def test_json_too_deep_or_a_number_too_long_is_400(client, db, path, body):
    answer = client.post(path, data=body, headers={"Content-Type": "application/json"})
    assert_envelope(answer, 400, "malformed_json")
    assert rows(db, User) == 0


@pytest.mark.parametrize("path", ["/api/v1/auth/register", "/api/v1/auth/login"])
def test_a_password_of_4301_digits_in_a_string_is_422(client, db, path):
    answer = client.post(path, json={"email": "a@example.com", "password": LONG_NUMBER})
    assert_envelope(answer, 422, "validation_error")
    assert rows(db, User) == 0


def test_a_deep_body_on_a_submission_is_400(client, auth, db):
    answer = client.post(PING, data='{"steps": ' + DEEP + '}', headers={**auth, "Content-Type": "application/json"})
    assert_envelope(answer, 400, "malformed_json")
    assert jobs_written(db) == 0


@pytest.mark.parametrize("text", ["\x00", "a\x00b", "\ud800", "x\udfffy"])
@pytest.mark.parametrize("field", ["description", "reference"])
def test_nul_or_a_lone_surrogate_in_a_string_is_422(client, auth, db, field, text):
    answer = client.post("/api/v1/wallet/charges", json={"amount": 1, field: text}, headers=auth)
    assert_envelope(answer, 422, "validation_error")
    assert field in answer.json["error"]["details"]["json"]
    assert jobs_written(db) == 0


@pytest.mark.parametrize("path", ["/api/v1/jobs?kind=%00", "/api/v1/jobs?kind=a%00", "/api/v1/jobs?cursor=%00",
                                  "/api/v1/wallet/transactions?cursor=a%00b"])
def test_nul_in_a_query_is_422(client, auth, path):
    assert_envelope(client.get(path, headers=auth), 422, "validation_error")


def test_prefer_wait_with_thousands_of_digits_is_clamped(app):
    for header, wanted in ((f"wait={'9' * 5000}", 30), (f"wait={'0' * 5000}7", 7), ("wait=", 0), ("wait=-1", 0)):
        with app.test_request_context(headers={"Prefer": header}):
            assert _prefer_wait(30) == wanted, header


def encoded(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor(*items) -> str:
    return encoded(json.dumps(list(items)).encode())


AWARE = "2024-01-01T00:00:00+00:00"
LISTS = {"jobs": ("/api/v1/jobs", Role.customer, str(uuid.uuid4())),
         "transfers": ("/api/v1/wallet/transactions", Role.customer, "1"),
         "users": ("/api/v1/users", Role.admin, "1")}
BAD_CURSORS = {
    "naive datetime": lambda ident: cursor("2024-01-01T00:00:00", ident),
    "year 1 with an offset": lambda ident: cursor("0001-01-01T00:00:00+05:00", ident),
    "year 9999 behind UTC": lambda ident: cursor("9999-12-31T23:59:59-05:00", ident),
    "a date that is a number": lambda ident: cursor(1e30, ident),
    "id 2^31": lambda ident: cursor(AWARE, str(2**31)),
    "id 2^63": lambda ident: cursor(AWARE, str(2**63)),
    "id 0": lambda ident: cursor(AWARE, "0"),
    "id 1e30": lambda ident: encoded(f'["{AWARE}", 1e30]'.encode()),
    "id -Infinity": lambda ident: encoded(f'["{AWARE}", -Infinity]'.encode()),
    "id NaN": lambda ident: encoded(f'["{AWARE}", NaN]'.encode()),
    "id a number": lambda ident: encoded(f'["{AWARE}", 12]'.encode()),
    "three items": lambda ident: cursor(AWARE, ident, ident),
    "an object": lambda ident: encoded(json.dumps({AWARE: ident, "b": 1}).encode()),
    "bad UTF-8": lambda ident: encoded(b'["\xff\xfe", "1"]'),
    "not base64": lambda ident: "!!!!",
}


@pytest.mark.parametrize("listing, name", [(listing, name) for listing in LISTS for name in BAD_CURSORS
                                            if (listing, name) != ("transfers", "id 2^31")])  # a BigInteger id
def test_a_cursor_we_did_not_give_out_is_400(app, client, listing, name):
    path, role, ident = LISTS[listing]
    _, auth = make_user(app, role)
    answer = client.get(path, headers=auth, query_string={"cursor": BAD_CURSORS[name](ident)})
    assert_envelope(answer, 400, "invalid_cursor")
