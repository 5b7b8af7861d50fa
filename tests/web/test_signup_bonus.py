"""The signup bonus is capped per client address per day: registrations past the cap succeed, without it."""

from __future__ import annotations

from tests.web.test_limits import OTHER, _register


def _granted(client, answer) -> int:
    token = {"Authorization": f"Bearer {answer.json['access_token']}"}
    return client.get("/api/v1/wallet", headers=token).json["granted"]


def test_the_bonus_is_capped_per_address_per_day(make_app):
    client = make_app(SIGNUP_BONUS_PER_IP_PER_DAY="2").test_client()
    first, second = _register(client, "a@example.com"), _register(client, "b@example.com")
    assert _register(client, "a@example.com").status_code == 409  # a failed registration uses no bonus
    third = _register(client, "c@example.com")
    assert [a.status_code for a in (first, second, third)] == [201, 201, 201]
    assert [a.json["signup_bonus_granted"] for a in (first, second, third)] == [True, True, False]
    assert [_granted(client, a) for a in (first, second, third)] == [100, 100, 0]
    elsewhere = _register(client, "d@example.com", OTHER)
    assert elsewhere.json["signup_bonus_granted"] is True and _granted(client, elsewhere) == 100
