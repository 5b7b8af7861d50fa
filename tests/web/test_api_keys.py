"""Users' API keys: made once, listed, revoked (refused at once, by every web process), and what a key
may not do (manage keys, the password, sessions)."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from models import ApiKey, Role
from services import api_keys
from tests.conftest import TEST_ENV
from tests.support import WebServer, first_pass_only, make_user


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def new_key(client, auth, name="ci") -> dict:
    answer = client.post("/api/v1/api-keys", json={"name": name}, headers=auth)
    assert answer.status_code == 201, answer.json
    return answer.json


def refused(answer, code: str, status: int = 401) -> bool:
    return answer.status_code == status and answer.json["error"]["code"] == code


def test_a_key_is_shown_once_stored_as_a_digest_listed_and_revoked(client, auth, db):
    made = new_key(client, auth, name="  deploy bot  ")
    key = made["key"]
    assert api_keys.KEY_SHAPE.fullmatch(key) and made["prefix"] == key[:11] and made["name"] == "deploy bot"
    assert made["revoked_at"] is None and made["last_used_at"] is None
    with db.read() as session:
        row = session.get(ApiKey, made["id"])
        assert row.key_hash == api_keys.digest(key) and key not in (row.key_hash, row.prefix)
    second = new_key(client, auth, name="laptop")
    listed = client.get("/api/v1/api-keys", headers=auth).json["items"]
    assert [k["id"] for k in listed] == [second["id"], made["id"]]  # newest first
    assert all("key" not in k and "key_hash" not in k for k in listed)

    assert client.delete(f"/api/v1/api-keys/{made['id']}", headers=auth).status_code == 204
    assert client.delete(f"/api/v1/api-keys/{made['id']}", headers=auth).status_code == 204  # again: no change
    listed = {k["id"]: k for k in client.get("/api/v1/api-keys", headers=auth).json["items"]}
    assert listed[made["id"]]["revoked_at"] and listed[second["id"]]["revoked_at"] is None


def test_a_key_acts_as_its_user_and_is_refused_at_once_when_revoked(app, client, auth, customer):
    made = new_key(client, auth)
    key = bearer(made["key"])
    assert client.get("/api/v1/auth/me", headers=key).json["id"] == customer[0]
    assert client.get("/api/v1/wallet", headers=key).json["currency"] == "credits"
    submitted = client.post("/api/v1/jobs/ping", json={}, headers=key)
    assert submitted.status_code == 202 and submitted.json["owner_id"] == customer[0]
    assert [j["id"] for j in client.get("/api/v1/jobs", headers=key).json["items"]] == [submitted.json["id"]]

    _, someone_else = make_user(app)
    assert refused(client.delete(f"/api/v1/api-keys/{made['id']}", headers=someone_else), "unknown_api_key", 404)
    assert client.get("/api/v1/jobs", headers=key).status_code == 200
    assert client.delete(f"/api/v1/api-keys/{made['id']}", headers=auth).status_code == 204
    assert refused(client.get("/api/v1/jobs", headers=key), "api_key_revoked")
    assert refused(client.get("/api/v1/wallet", headers=key), "api_key_revoked")


def test_a_key_outlives_its_users_sign_outs(client, auth):
    key = bearer(new_key(client, auth)["key"])
    assert client.post("/api/v1/auth/logout-all", headers=auth).status_code == 204
    assert client.get("/api/v1/auth/me", headers=auth).status_code == 401
    assert client.get("/api/v1/jobs", headers=key).status_code == 200


def test_a_key_may_not_manage_keys_the_password_or_sessions(client, auth):
    key = bearer(new_key(client, auth)["key"])
    for method, path, body in [("post", "/api/v1/api-keys", {"name": "more"}), ("get", "/api/v1/api-keys", None),
                               ("delete", "/api/v1/api-keys/1", None),
                               ("patch", "/api/v1/auth/me", {"password": "new-password-1",
                                                             "current_password": "password123"}),
                               ("patch", "/api/v1/auth/me", {"email": "thief@example.com"}),
                               ("post", "/api/v1/auth/logout", None), ("post", "/api/v1/auth/logout-all", None)]:
        answer = getattr(client, method)(path, json=body, headers=key)
        assert refused(answer, "session_required", 403), (method, path, answer.json)
    assert len(client.get("/api/v1/api-keys", headers=auth).json["items"]) == 1


def test_a_deleted_users_keys_stop_working(client, auth, customer, admin):
    key = bearer(new_key(client, auth)["key"])
    assert client.get("/api/v1/jobs", headers=key).status_code == 200
    assert client.delete(f"/api/v1/users/{customer[0]}", headers=admin).status_code == 204
    assert refused(client.get("/api/v1/jobs", headers=key), "api_key_revoked")


def test_an_admins_key_carries_the_admins_role_as_it_is_now(app, client, admin):
    key = bearer(new_key(client, admin)["key"])
    assert client.get("/api/v1/users", headers=key).status_code == 200
    user_id = client.get("/api/v1/auth/me", headers=key).json["id"]
    _, other_admin = make_user(app, Role.admin)
    assert client.patch(f"/api/v1/users/{user_id}", json={"role": "customer"}, headers=other_admin).status_code == 200
    assert refused(client.get("/api/v1/users", headers=key), "forbidden", 403)


@pytest.mark.parametrize("token", [
    "ck_", "ck_short", "ck_" + "A" * 43, "ck_" + "A" * 42 + "!", "ck_" + "A" * 44, "ck_" + "A" * 10_000,
    "ck_" + "é" * 43, "ck_\x01" + "A" * 42, "CK_" + "A" * 43, "ck_AAAA.eyJ.zzz",
])
def test_wrong_or_garbled_keys_are_401_json(client, auth, token):
    new_key(client, auth)
    answer = client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {token}".encode("utf-8").decode("latin-1")})
    assert answer.status_code == 401 and answer.json["error"]["code"] in ("invalid_api_key", "invalid_token")


def test_a_revoked_or_altered_real_key_is_401(client, auth):
    key = new_key(client, auth)["key"]
    altered = key[:-1] + ("B" if key[-1] != "B" else "C")
    assert refused(client.get("/api/v1/jobs", headers=bearer(altered)), "invalid_api_key")


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "   "}, {"name": "x" * 101}, {"name": 7},
                                  {"name": "a\x00b"}, {"name": "\ud800"}, {"name": None}, [], {"name": "ok", "x": 1}])
def test_bad_key_requests_are_422(client, auth, body):
    answer = client.post("/api/v1/api-keys", json=body, headers=auth)
    assert answer.status_code == 422 and answer.json["error"]["code"] == "validation_error", answer.json


def test_revoking_an_unknown_or_out_of_range_key_is_404(client, auth):
    for key_id in (1, 2**31, 2**63, 10**30):
        assert refused(client.delete(f"/api/v1/api-keys/{key_id}", headers=auth), "unknown_api_key", 404)
    assert client.get("/api/v1/api-keys", headers=auth, query_string={"cursor": "garbage"}).status_code == 400


def test_live_keys_per_user_are_capped(client, auth, monkeypatch):
    monkeypatch.setattr(api_keys, "MAX_LIVE_KEYS", 2)
    first = new_key(client, auth)
    new_key(client, auth)
    assert refused(client.post("/api/v1/api-keys", json={"name": "third"}, headers=auth), "too_many_api_keys", 409)
    client.delete(f"/api/v1/api-keys/{first['id']}", headers=auth)
    new_key(client, auth)


def test_last_used_is_recorded_after_the_answer_at_most_once_a_minute(client, auth, db):
    made = new_key(client, auth)
    client.get("/api/v1/jobs", headers=bearer(made["key"])).close()
    with db.read() as session:
        first = session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == made["id"]))
    assert first is not None
    client.get("/api/v1/jobs", headers=bearer(made["key"])).close()
    with db.read() as session:
        assert session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == made["id"])) == first
    listed = client.get("/api/v1/api-keys", headers=auth).json["items"][0]
    assert listed["last_used_at"] is not None


@first_pass_only
def test_revocation_is_seen_at_once_by_other_web_processes(client, auth):
    """Two gunicorn processes answer with the key (and cache it); revoking it here refuses it there at once."""
    made = new_key(client, auth)
    web = WebServer(TEST_ENV, workers=2)
    try:
        url, key = f"{web.url}/api/v1/jobs", bearer(made["key"])
        assert all(requests.get(url, headers=key).status_code == 200 for _ in range(10))
        assert client.delete(f"/api/v1/api-keys/{made['id']}", headers=auth).status_code == 204
        answers = [requests.get(url, headers=key) for _ in range(10)]
        assert all(a.status_code == 401 and a.json()["error"]["code"] == "api_key_revoked" for a in answers)
    finally:
        web.stop()
