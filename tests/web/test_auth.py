"""Register, log in, tokens, roles."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest

from models import Role
from models.base import utcnow
from tests.support import make_user


def test_register_then_login_then_me(client):
    registered = client.post("/api/v1/auth/register", json={"email": "Ann@Example.com", "password": "s3cret-pass"})
    assert registered.status_code == 201
    assert registered.json["user"]["email"] == "ann@example.com"
    assert registered.json["user"]["role"] == "customer"
    assert "password" not in json.dumps(registered.json)

    login = client.post("/api/v1/auth/login", json={"email": "ann@example.com", "password": "s3cret-pass"})
    assert login.status_code == 200
    assert login.json["token_type"] == "Bearer" and login.json["expires_in"] == 900
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {login.json['access_token']}"})
    assert me.status_code == 200 and me.json["id"] == registered.json["user"]["id"]


def test_register_twice_is_a_conflict(client):
    body = {"email": "dup@example.com", "password": "password123"}
    assert client.post("/api/v1/auth/register", json=body).status_code == 201
    again = client.post("/api/v1/auth/register", json=body)
    assert again.status_code == 409 and again.json["error"]["code"] == "email_taken"


@pytest.mark.parametrize("body", [
    {"email": "not-an-email", "password": "password123"},
    {"email": "a@example.com", "password": "short"},
    {"email": "a@example.com"},
    {"email": "a@example.com", "password": "password123", "role": "admin"},
])
def test_register_rejects_bad_input(client, body):
    answer = client.post("/api/v1/auth/register", json=body)
    assert answer.status_code == 422 and answer.json["error"]["code"] == "validation_error"


def test_wrong_password_and_unknown_email_look_the_same(client, customer):
    client.post("/api/v1/auth/register", json={"email": "bob@example.com", "password": "password123"})
    wrong = client.post("/api/v1/auth/login", json={"email": "bob@example.com", "password": "password124"})
    unknown = client.post("/api/v1/auth/login", json={"email": "nobody@example.com", "password": "password123"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json


def _token(app, **claims):
    settings = app.extensions["conveyor"].settings
    base = {"sub": "1", "role": "customer", "exp": utcnow() + timedelta(minutes=5)}
    return jwt.encode(base | claims, settings.secret_key, algorithm="HS256")


def _unsigned(claims: dict) -> str:
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.parametrize("header, code", [
    (None, "missing_token"),
    ("Basic abc", "missing_token"),
    ("Bearer ", "missing_token"),
    ("Bearer not.a.token", "invalid_token"),
])
def test_missing_or_malformed_tokens_are_401(client, header, code):
    answer = client.get("/api/v1/jobs", headers={"Authorization": header} if header else {})
    assert answer.status_code == 401
    assert answer.json["error"]["code"] == code
    assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_expired_wrongly_signed_and_unsigned_tokens_are_401(app, client):
    expired = _token(app, exp=utcnow() - timedelta(seconds=1))
    forged = jwt.encode({"sub": "1", "role": "admin", "exp": utcnow() + timedelta(minutes=5)},
                        "another-secret-another-secret-another", algorithm="HS256")
    unsigned = _unsigned({"sub": "1", "role": "admin", "exp": int((utcnow() + timedelta(minutes=5)).timestamp())})
    codes = {}
    for name, token in (("expired", expired), ("forged", forged), ("unsigned", unsigned)):
        answer = client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401, name
        codes[name] = answer.json["error"]["code"]
    assert codes == {"expired": "token_expired", "forged": "invalid_token", "unsigned": "invalid_token"}


def test_roles_gate_staff_endpoints(app, client):
    _, customer = make_user(app, Role.customer)
    _, manager = make_user(app, Role.manager)
    _, admin = make_user(app, Role.admin)
    branch = client.post("/api/v1/branches", json={"name": "Centre", "code": "B03"}, headers=admin).json["id"]
    new_seller = {"email": "seller@example.com", "password": "password123", "role": "seller", "branch_id": branch}

    assert client.get("/api/v1/users", headers=customer).status_code == 403
    assert client.get("/api/v1/users", headers=manager).status_code == 200
    refused = client.post("/api/v1/users", json=new_seller, headers=manager)
    assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"
    nowhere = client.post("/api/v1/users", json={**new_seller, "branch_id": branch + 1}, headers=admin)
    assert nowhere.status_code == 422 and nowhere.json["error"]["code"] == "unknown_branch"
    created = client.post("/api/v1/users", json=new_seller, headers=admin)
    assert created.status_code == 201 and created.json["role"] == "seller" and created.json["branch_id"] == branch
    listed = client.get("/api/v1/users", headers=admin, query_string={"limit": 200}).json["items"]
    assert "seller@example.com" in [u["email"] for u in listed]


def test_create_admin_command(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-admin", "root@example.com", "--password", "password123"])
    assert result.exit_code == 0, result.output
    login = app.test_client().post("/api/v1/auth/login", json={"email": "root@example.com", "password": "password123"})
    token = login.json["access_token"]
    me = app.test_client().get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json
    assert me["role"] == "admin"
    again = runner.invoke(args=["create-admin", "root@example.com", "--password", "password123"])
    assert again.exit_code != 0 and "already exists" in again.output


def test_look_alike_emails_are_one_address(client):
    assert client.post("/api/v1/auth/register", json={"email": "alice@example.com", "password": "password123"}
                       ).status_code == 201
    for look_alike in ("ａlice@example.com", "ALICE@EXAMPLE.COM", " Alice@example.com "):
        again = client.post("/api/v1/auth/register", json={"email": look_alike, "password": "password123"})
        assert again.status_code == 409 and again.json["error"]["code"] == "email_taken", look_alike
    login = client.post("/api/v1/auth/login", json={"email": "ａｌｉｃｅ@example.com", "password": "password123"})
    assert login.status_code == 200


@pytest.mark.parametrize("email", ["İ" * 60 + "@example.com", "İ" * 200 + "@example.com",
                                   "a" * 235 + "ß" * 5 + "@example.com"])
def test_an_email_that_case_folding_lengthens_past_the_column_is_422(client, email):
    for path in ("/api/v1/auth/register", "/api/v1/auth/login"):
        answer = client.post(path, json={"email": email, "password": "password123"})
        assert answer.status_code == 422 and answer.json["error"]["code"] == "validation_error", path


def test_a_login_rehashes_a_password_hashed_with_older_parameters(app, client, db):
    from argon2 import PasswordHasher

    from models import User
    from services import auth as auth_service

    old_hash = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4).hash("password123")  # the old default
    with db.Session.begin() as session:
        user_id = auth_service.create_user(session, "old@example.com", old_hash).id
    assert client.post("/api/v1/auth/login", json={"email": "old@example.com", "password": "wrong-password"}
                       ).status_code == 401
    with db.read() as session:
        assert session.get(User, user_id).password_hash == old_hash  # only a successful login rehashes
    assert client.post("/api/v1/auth/login", json={"email": "old@example.com", "password": "password123"}
                       ).status_code == 200
    with db.read() as session:
        new_hash = session.get(User, user_id).password_hash
    assert new_hash != old_hash and "m=19456,t=2,p=1" in new_hash and not auth_service.needs_rehash(new_hash)
    assert client.post("/api/v1/auth/login", json={"email": "old@example.com", "password": "password123"}
                       ).status_code == 200


def test_a_login_costs_well_under_100_ms_of_cpu(app):
    import time

    from services import auth as auth_service

    password_hash = auth_service.hash_password("password123")
    user = type("U", (), {"password_hash": password_hash, "deleted_at": None})()
    started = time.process_time()
    auth_service.check_password(user, "password123")
    assert time.process_time() - started < 0.1
