"""Identity that can be revoked: sessions, refresh tokens, logout, profile changes, deletion and demotion."""

from __future__ import annotations

from sqlalchemy import func, select

from models import Job, LoginSession, Role, User
from tests.support import ensure_branch, make_user

PASSWORD = "password123"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def sign_up(client, email="sam@example.com") -> dict:
    answer = client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 201, answer.json
    return answer.json


def log_in(client, email="sam@example.com", password=PASSWORD) -> dict:
    answer = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.json
    return answer.json


def me(client, tokens: dict):
    return client.get("/api/v1/auth/me", headers=bearer(tokens["access_token"]))


def refresh(client, refresh_token: str):
    return client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})


def test_sign_in_answers_a_short_access_token_and_a_refresh_token(client):
    tokens = sign_up(client)
    assert tokens["expires_in"] == 900 and tokens["refresh_expires_in"] == 30 * 86400
    assert tokens["refresh_token"] and tokens["token_type"] == "Bearer"
    assert set(log_in(client)) >= {"access_token", "refresh_token", "refresh_expires_in"}


def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_session(app, client, db):
    first = sign_up(client)
    second = refresh(client, first["refresh_token"])
    assert second.status_code == 200 and second.json["refresh_token"] != first["refresh_token"]
    assert me(client, second.json).status_code == 200
    # The first refresh token was spent: presenting it again means someone kept a copy.
    reused = refresh(client, first["refresh_token"])
    assert reused.status_code == 401 and reused.json["error"]["code"] == "refresh_token_reused"
    # The whole session ends at once: its newest refresh token and its access tokens too.
    assert refresh(client, second.json["refresh_token"]).json["error"]["code"] == "invalid_refresh_token"
    refused = me(client, second.json)
    assert refused.status_code == 401 and refused.json["error"]["code"] == "token_revoked"
    with db.read() as session:
        assert session.scalar(select(LoginSession.revoked_reason)) == "refresh_token_reused"
        assert "." in first["refresh_token"] and session.scalar(select(LoginSession.refresh_hash)) not in (
            first["refresh_token"], second.json["refresh_token"])  # only hashes are stored


def test_malformed_refresh_tokens_are_401(client):
    for token in ("x", "." * 40, "0" * 32 + ".abc", "zz" * 16 + ".abc"):
        answer = refresh(client, token)
        assert answer.status_code == 401 and answer.json["error"]["code"] == "invalid_refresh_token"


def test_logout_revokes_the_session_at_once(client):
    sign_up(client)
    here, there = log_in(client), log_in(client)
    assert me(client, here).status_code == 200  # cached as valid before the logout
    assert client.post("/api/v1/auth/logout", headers=bearer(here["access_token"])).status_code == 204
    assert me(client, here).json["error"]["code"] == "token_revoked"
    assert refresh(client, here["refresh_token"]).status_code == 401
    assert me(client, there).status_code == 200  # another session lives on


def test_logout_everywhere_ends_every_session(client):
    sign_up(client)
    here, there = log_in(client), log_in(client)
    assert client.post("/api/v1/auth/logout-all", headers=bearer(here["access_token"])).status_code == 204
    for tokens in (here, there):
        assert me(client, tokens).status_code == 401
        assert refresh(client, tokens["refresh_token"]).status_code == 401


def test_password_change_revokes_every_other_session(client):
    sign_up(client)
    here, there = log_in(client), log_in(client)
    assert me(client, there).status_code == 200
    wrong = client.patch("/api/v1/auth/me", json={"password": "new-password-1", "current_password": "nope-nope"},
                         headers=bearer(here["access_token"]))
    assert wrong.status_code == 403 and wrong.json["error"]["code"] == "invalid_current_password"
    missing = client.patch("/api/v1/auth/me", json={"password": "new-password-1"}, headers=bearer(here["access_token"]))
    assert missing.status_code == 422
    changed = client.patch("/api/v1/auth/me", json={"password": "new-password-1", "current_password": PASSWORD},
                           headers=bearer(here["access_token"]))
    assert changed.status_code == 200 and changed.json["email"] == "sam@example.com"
    # The other session is over; this one goes on with the new access token (and its refresh token).
    assert me(client, there).status_code == 401 and refresh(client, there["refresh_token"]).status_code == 401
    assert me(client, here).status_code == 401  # tokens issued before the change are refused
    assert me(client, changed.json).status_code == 200
    assert refresh(client, here["refresh_token"]).status_code == 200
    assert client.post("/api/v1/auth/login", json={"email": "sam@example.com", "password": PASSWORD}).status_code == 401
    log_in(client, password="new-password-1")


def test_patch_me_changes_the_email(client):
    sign_up(client)
    sign_up(client, "taken@example.com")
    tokens = log_in(client)
    changed = client.patch("/api/v1/auth/me", json={"email": "Sam.New@Example.com"},
                           headers=bearer(tokens["access_token"]))
    assert changed.status_code == 200 and changed.json["email"] == "sam.new@example.com"
    assert "access_token" not in changed.json and me(client, tokens).json["email"] == "sam.new@example.com"
    taken = client.patch("/api/v1/auth/me", json={"email": "ＴＡＫＥＮ@example.com"}, headers=bearer(tokens["access_token"]))
    assert taken.status_code == 409 and taken.json["error"]["code"] == "email_taken"
    assert client.patch("/api/v1/auth/me", json={}, headers=bearer(tokens["access_token"])).status_code == 422
    log_in(client, "sam.new@example.com")


def test_a_deleted_users_token_is_refused_at_once_and_their_submission_is_401(app, client, db):
    user_id, auth = make_user(app)
    _, admin = make_user(app, Role.admin)
    assert client.get("/api/v1/auth/me", headers=auth).status_code == 200  # cached as valid
    assert client.delete(f"/api/v1/users/{user_id}", headers=admin).status_code == 204
    refused = client.get("/api/v1/auth/me", headers=auth)
    assert refused.status_code == 401 and refused.json["error"]["code"] == "token_revoked"
    submitted = client.post("/api/v1/jobs/ping", json={}, headers=auth)
    assert submitted.status_code == 401 and submitted.json["error"]["code"] == "token_revoked"
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0
        assert session.get(User, user_id).deleted_at is not None
    assert client.delete(f"/api/v1/users/{user_id}", headers=admin).status_code == 404
    assert client.delete(f"/api/v1/users/{2**40}", headers=admin).status_code == 404


def test_a_deleted_user_cannot_log_in_and_their_email_stays_taken(app, client):
    user_id = sign_up(client)["user"]["id"]
    _, admin = make_user(app, Role.admin)
    assert client.delete(f"/api/v1/users/{user_id}", headers=admin).status_code == 204
    login = client.post("/api/v1/auth/login", json={"email": "sam@example.com", "password": PASSWORD})
    assert login.status_code == 401 and login.json["error"]["code"] == "invalid_credentials"
    again = client.post("/api/v1/auth/register", json={"email": "sam@example.com", "password": PASSWORD})
    assert again.status_code == 409


def test_a_demoted_admin_loses_admin_at_once(app, client):
    demoted_id, demoted = make_user(app, Role.admin)
    _, admin = make_user(app, Role.admin)
    assert client.get("/api/v1/users", headers=demoted).status_code == 200
    changed = client.patch(f"/api/v1/users/{demoted_id}", json={"role": "customer"}, headers=admin)
    assert changed.status_code == 200 and changed.json["role"] == "customer"
    refused = client.get("/api/v1/users", headers=demoted)
    assert refused.status_code == 401 and refused.json["error"]["code"] == "token_revoked"


def test_admins_change_roles_and_branches_only(app, client):
    user_id, customer = make_user(app)
    _, manager = make_user(app, Role.manager, branch_id=1)
    _, admin = make_user(app, Role.admin)
    path = f"/api/v1/users/{user_id}"
    assert client.patch(path, json={"role": "admin"}, headers=manager).status_code == 403
    assert client.patch(path, json={"role": "admin"}, headers=customer).status_code == 403
    assert client.delete(path, headers=manager).status_code == 403
    for bad in ({}, {"role": "king"}, {"branch_id": 2**31}, {"branch_id": "1"}):
        assert client.patch(path, json=bad, headers=admin).status_code == 422, bad
    unknown = client.patch(path, json={"role": "seller", "branch_id": 4}, headers=admin)
    assert unknown.status_code == 422 and unknown.json["error"]["code"] == "unknown_branch"
    with app.extensions["conveyor"].db.Session.begin() as session:
        ensure_branch(session, 4)
    moved = client.patch(path, json={"role": "seller", "branch_id": 4}, headers=admin)
    assert moved.json["role"] == "seller" and moved.json["branch_id"] == 4
    assert client.patch(path, json={"branch_id": None}, headers=admin).json["branch_id"] is None


def test_a_refresh_token_with_a_lone_surrogate_is_refused_at_the_door(client):
    token = sign_up(client)["refresh_token"]
    answer = refresh(client, f"{token.partition('.')[0]}.\ud800")
    assert answer.status_code == 422 and answer.json["error"]["code"] == "validation_error"
    assert refresh(client, token).status_code == 200  # an unreadable token is not a reuse: the session lives
