"""Maintenance mode: writes answer 503 with the admins' message, reads keep working, admins, login and the
payments webhook are exempt; every web process sees a change at once (Redis), not after its cache time."""

from __future__ import annotations

import time

import pytest

from models import Role
from tests.support import make_user
from tests.web.test_billing_api import webhook

FLAG = "/api/v1/admin/flags/maintenance_mode"


@pytest.fixture
def switch(app, admin):
    """Switch maintenance mode through the API; always off again after the test (for every process)."""
    client = app.test_client()

    def set_to(enabled: bool, message: str = "", via=client) -> dict:
        answer = via.put(FLAG, json={"enabled": enabled, "message": message}, headers=admin)
        assert answer.status_code == 200, answer.json
        return answer.json

    yield set_to
    set_to(False)


def test_maintenance_refuses_customer_writes_with_the_message(app, client, auth, admin, switch):
    customer_id, _ = make_user(app)
    state = switch(True, "Upgrading the database; back by 14:30 UTC")
    assert state["enabled"] is True and state["updated_by"] is not None

    refused = client.post("/api/v1/jobs/ping", json={}, headers=auth)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "60"
    assert refused.json["error"] == {"code": "maintenance", "message": "Upgrading the database; back by 14:30 UTC",
                                     "details": {"retry_after": 60}}
    signup = client.post("/api/v1/auth/register", json={"email": "new@example.com", "password": "password123"})
    assert signup.status_code == 503
    assert client.get("/api/v1/jobs", headers=auth).status_code == 200  # reads work
    assert client.post("/api/v1/jobs/ping", json={}, headers=admin).status_code == 202  # admins are exempt
    login = client.post("/api/v1/auth/login", json={"email": "new@example.com", "password": "password123"})
    assert login.status_code == 401  # login is open (and this user was never created)
    paid = webhook(client, app, {"id": "evt_m", "type": "payment.succeeded",
                                 "data": {"user_id": customer_id, "amount": 5}})
    assert paid.status_code == 202  # payments are still recorded
    assert client.get(FLAG, headers=admin).json["message"] == "Upgrading the database; back by 14:30 UTC"

    switch(False)
    assert client.post("/api/v1/jobs/ping", json={}, headers=auth).status_code == 202


def test_only_admins_see_or_switch_flags_and_bad_input_writes_nothing(app, client, auth, admin):
    _, manager = make_user(app, Role.manager)
    for who in (auth, manager):
        assert client.get(FLAG, headers=who).status_code == 403
        assert client.put(FLAG, json={"enabled": True}, headers=who).status_code == 403
    assert client.get("/api/v1/admin/flags/no_such_flag", headers=admin).json["error"]["code"] == "unknown_flag"
    for body in ({"enabled": "yes"}, {}, {"enabled": True, "message": "a\u0000b"}, {"enabled": True, "message": "x" * 501}):
        assert client.put(FLAG, json=body, headers=admin).status_code == 422, body
    assert client.get(FLAG, headers=admin).json == {"name": "maintenance_mode", "enabled": False, "message": "",
                                                    "updated_at": None, "updated_by": None}


def test_a_change_reaches_another_web_process_at_once(make_app, switch):
    """Two apps (two processes' worth of caches) caching for a minute: the other one sees each change
    within a second, through Redis."""
    this, other = (make_app(FEATURE_FLAG_CACHE_SECONDS="60").test_client() for _ in range(2))
    _, auth = make_user(this.application)
    assert other.post("/api/v1/jobs/ping", json={}, headers=auth).status_code == 202  # cached: off

    def other_sees(status: int) -> float:
        started = time.monotonic()
        while other.post("/api/v1/jobs/ping", json={}, headers=auth).status_code != status:
            assert time.monotonic() - started < 2, f"still not {status}"
            time.sleep(0.02)
        return time.monotonic() - started

    switch(True, "back soon", via=this)
    assert other_sees(503) < 1
    switch(False, via=this)
    assert other_sees(202) < 1
