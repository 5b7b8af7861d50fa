"""Rate limits: per client address on register and login, per account on failed logins (a growing
delay), per user on submissions; 429 in our envelope with Retry-After; Redis away fails open."""

from __future__ import annotations

import time

import pytest
import requests
from sqlalchemy import func, select

from models import User
from tests.conftest import TEST_ENV
from tests.support import WebServer, first_pass_only, make_user
from web.client_ip import client_ip, client_key

ME, OTHER = {"REMOTE_ADDR": "203.0.113.7"}, {"REMOTE_ADDR": "198.51.100.9"}


def _register(client, email: str, address=ME):
    return client.post("/api/v1/auth/register", json={"email": email, "password": "password123"},
                       environ_base=address)


def _login(client, email: str, password: str = "password123", address=ME):
    return client.post("/api/v1/auth/login", json={"email": email, "password": password}, environ_base=address)


def _assert_rate_limited(answer, at_most: int) -> int:
    assert answer.status_code == 429, answer.json
    error = answer.json["error"]
    assert error["code"] == "rate_limited"
    assert 1 <= error["details"]["retry_after"] <= at_most
    assert answer.headers["Retry-After"] == str(error["details"]["retry_after"])
    return error["details"]["retry_after"]


def _users(app) -> int:
    with app.extensions["conveyor"].db.read() as s:
        return s.scalar(select(func.count()).select_from(User))


def test_registrations_are_limited_per_address(make_app):
    app = make_app(REGISTER_RATE_LIMIT="2/minute;5/day")
    client = app.test_client()
    assert [_register(client, f"r{n}@example.com").status_code for n in range(2)] == [201, 201]
    _assert_rate_limited(_register(client, "r2@example.com"), 60)
    assert _users(app) == 2  # the refused one wrote nothing
    assert _register(client, "r3@example.com", OTHER).status_code == 201


def test_logins_are_limited_per_address(make_app):
    app = make_app(LOGIN_RATE_LIMIT="3/minute")
    client = app.test_client()
    _register(client, "ann@example.com")
    assert [_login(client, "ann@example.com").status_code for _ in range(3)] == [200, 200, 200]
    _assert_rate_limited(_login(client, "ann@example.com"), 60)
    assert _login(client, "ann@example.com", address=OTHER).status_code == 200


def test_failed_logins_lock_the_account_for_longer_each_time(make_app):
    app = make_app(LOGIN_FAILURES_BEFORE_DELAY="2", LOGIN_DELAY_MAX_SECONDS="2")
    client = app.test_client()
    _register(client, "bob@example.com")
    assert [_login(client, "bob@example.com", "wrong-pass").status_code for _ in range(2)] == [401, 401]
    # Locked for 1 s, from every address, even with the right password.
    _assert_rate_limited(_login(client, "BOB@example.com", address=OTHER), 1)
    time.sleep(1.1)
    assert _login(client, "bob@example.com", "wrong-pass").status_code == 401
    assert _assert_rate_limited(_login(client, "bob@example.com"), 2) == 2  # twice as long (the cap here)
    time.sleep(2.1)
    assert _login(client, "bob@example.com").status_code == 200  # and a success forgets the failures
    assert _login(client, "bob@example.com", "wrong-pass").status_code == 401
    assert _login(client, "bob@example.com").status_code == 200
    # Unknown emails are locked alike (the lock tells nothing), and the store never holds an address.
    assert [_login(client, "nobody@example.com", "x").status_code for _ in range(2)] == [401, 401]
    _assert_rate_limited(_login(client, "nobody@example.com", "x"), 1)
    keys = list(app.extensions["conveyor"].redis.scan_iter("conveyor:login-failures:*"))
    assert keys and not [k for k in keys if "example" in k]


def test_submissions_are_limited_per_user_across_endpoints(make_app):
    app = make_app(SUBMIT_RATE_LIMIT="2/minute")
    client = app.test_client()
    _, auth = make_user(app)
    _, other = make_user(app)
    assert [client.post("/api/v1/jobs/ping", json={}, headers=auth).status_code for _ in range(2)] == [202, 202]
    _assert_rate_limited(client.post("/api/v1/wallet/charges", json={"amount": 1}, headers=auth), 60)
    assert client.post("/api/v1/jobs/ping", json={}, headers=other).status_code == 202
    assert client.get("/api/v1/jobs", headers=auth).status_code == 200  # reads are not submissions


def test_without_redis_the_limits_fail_open(make_app):
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0", REGISTER_RATE_LIMIT="1/minute", LOGIN_RATE_LIMIT="1/minute")
    client = app.test_client()
    for n in range(2):
        registered = _register(client, f"open{n}@example.com")
        assert registered.status_code == 201
        assert registered.json["signup_bonus_granted"] is False  # no counter, no bonus
    assert [_login(client, "open0@example.com").status_code for _ in range(2)] == [200, 200]


@pytest.mark.parametrize("peer, forwarded, proxies, expected", [
    ("203.0.113.7", "1.2.3.4", "", "203.0.113.7"),  # no trusted proxies: the header is ignored
    ("203.0.113.7", "1.2.3.4", "10.0.0.0/8", "203.0.113.7"),  # from an untrusted peer: ignored
    ("10.0.0.2", "1.2.3.4", "10.0.0.0/8", "1.2.3.4"),
    ("10.0.0.2", "6.6.6.6, 1.2.3.4, 10.0.0.5", "10.0.0.0/8", "1.2.3.4"),  # a client's own claim is not believed
    ("10.0.0.2", "1.2.3.4, not-an-ip", "10.0.0.0/8", "10.0.0.2"),
    ("10.0.0.2", "", "10.0.0.0/8", "10.0.0.2"),
])
def test_the_client_address_believes_only_trusted_proxies(make_app, peer, forwarded, proxies, expected):
    app = make_app(TRUSTED_PROXIES=proxies)
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    with app.test_request_context(headers=headers, environ_base={"REMOTE_ADDR": peer}):
        assert client_ip() == expected


def test_ipv6_clients_are_counted_per_64(app):
    with app.test_request_context(environ_base={"REMOTE_ADDR": "2001:db8:1:2:aaaa::1"}):
        assert client_key() == "2001:db8:1:2::/64"
    with app.test_request_context(environ_base={"REMOTE_ADDR": "::ffff:203.0.113.7"}):
        assert client_key() == "203.0.113.7"


@first_pass_only
def test_the_real_web_processes_share_the_limits():
    """gunicorn with two (gevent) workers: the count is Redis's, whichever worker answers. (A body
    that fails validation counts too: the limit comes before parsing.)"""
    server = WebServer(TEST_ENV, workers=2, LOGIN_RATE_LIMIT="4/minute")
    try:
        answers = [requests.post(f"{server.url}/api/v1/auth/login", json={}) for _ in range(5)]
    finally:
        server.stop()
    assert [a.status_code for a in answers] == [422] * 4 + [429]
    assert answers[-1].json()["error"]["code"] == "rate_limited" and int(answers[-1].headers["Retry-After"]) > 0
