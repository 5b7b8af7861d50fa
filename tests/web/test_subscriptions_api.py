"""Tiers and subscriptions over HTTP: the tiers admin, a user's subscription, an admin's change, and the
signed `subscription.updated` webhook event (applied once per event id)."""

from __future__ import annotations

import json
import time

import pytest

from services.billing.signatures import sign
from tests.subscription_support import seed_tiers_in
from tests.support import make_user, register

WEBHOOK = "/api/v1/billing/webhooks/payments"


@pytest.fixture
def tiers(db):
    return seed_tiers_in(db)


def webhook(client, app, event: dict, *, at: float | None = None):
    body = json.dumps(event).encode()
    header = sign(app.extensions["conveyor"].settings.payment_webhook_secrets[0], body, int(at or time.time()))
    return client.post(WEBHOOK, data=body, headers={"Content-Type": "application/json", "Conveyor-Signature": header})


def test_a_new_user_is_on_the_free_tier_with_its_grant(client, tiers):
    _, auth = register(client)
    mine = client.get("/api/v1/subscription", headers=auth).json
    assert mine["tier"]["name"] == "free" and mine["status"] == "active"
    assert (mine["allowance"], mine["granted_this_period"], mine["used_this_period"]) == (100, 100, 0)
    assert mine["next_refresh"] == mine["period_end"] and mine["next_tier"] is None
    assert client.get("/api/v1/wallet", headers=auth).json["granted"] == 200  # the signup bonus and the grant


def test_admins_manage_tiers_and_users_see_the_active_ones(client, tiers, admin, auth):
    made = client.post("/api/v1/admin/tiers", headers=admin, json={
        "name": "team", "credits_per_period": 5000, "period": "weekly", "rollover": True, "rollover_cap": 1000,
        "price_multiplier": "0.9", "requests_per_minute": 120})
    assert made.status_code == 201, made.json
    assert made.json["price_multiplier"] == "0.9000" and made.json["tokens_per_minute"] is None
    changed = client.patch(f"/api/v1/admin/tiers/{made.json['id']}", headers=admin, json={"active": False})
    assert changed.status_code == 200 and changed.json["active"] is False
    assert "team" in [t["name"] for t in client.get("/api/v1/admin/tiers", headers=admin).json]
    assert "team" not in [t["name"] for t in client.get("/api/v1/tiers", headers=auth).json]
    assert client.post("/api/v1/admin/tiers", headers=admin, json={
        "name": "team", "credits_per_period": 1, "period": "daily"}).json["error"]["code"] == "tier_name_taken"
    assert client.patch(f"/api/v1/admin/tiers/{made.json['id']}", headers=admin,
                        json={"period": "daily"}).status_code == 422
    assert client.get("/api/v1/admin/tiers", headers=auth).status_code == 403


@pytest.mark.parametrize("body", [{"name": "x" * 33, "credits_per_period": 1, "period": "daily"},
                                  {"name": "ok", "credits_per_period": -1, "period": "daily"},
                                  {"name": "ok", "credits_per_period": 1, "period": "yearly"},
                                  {"name": "ok", "credits_per_period": 1, "period": "daily", "price_multiplier": "0"},
                                  {"name": "ok\u0000", "credits_per_period": 1, "period": "daily"}])
def test_bad_tiers_are_422(client, tiers, admin, body):
    assert client.post("/api/v1/admin/tiers", headers=admin, json=body).status_code == 422


def test_an_admin_upgrades_then_cancels_a_user_once_per_reference(client, tiers, admin):
    user_id, auth = make_user(client.application)
    path = f"/api/v1/admin/users/{user_id}/subscription"
    upgraded = client.put(path, headers=admin, json={"tier_id": tiers["basic"], "reference": "ticket-1"})
    assert upgraded.status_code == 200, upgraded.json
    assert upgraded.json["action"] == "upgraded" and 0 < upgraded.json["granted"] <= 1900
    again = client.put(path, headers=admin, json={"tier_id": tiers["basic"], "reference": "ticket-1"})
    assert again.json == upgraded.json
    mine = client.get("/api/v1/subscription", headers=auth).json
    assert mine["tier"]["name"] == "basic" and mine["granted_this_period"] == 100 + upgraded.json["granted"]
    cancelled = client.put(path, headers=admin, json={"status": "cancelled"})
    assert cancelled.json["action"] == "cancelled"
    mine = client.get("/api/v1/subscription", headers=auth).json
    assert mine["status"] == "cancelled" and mine["next_refresh"] is None
    assert client.put(path, headers=admin, json={"tier_id": tiers["basic"], "status": "cancelled"}).status_code == 422
    assert client.put(path, headers=admin, json={"tier_id": 999999}).json["error"]["code"] == "unknown_tier"
    assert client.put("/api/v1/admin/users/999999/subscription", headers=admin,
                      json={"tier_id": tiers["basic"]}).status_code == 422


def test_a_subscription_updated_event_changes_the_tier_once(app, client, tiers):
    user_id, auth = make_user(app)
    event = {"id": "evt_sub_1", "type": "subscription.updated", "data": {"user_id": user_id,
                                                                          "tier_id": tiers["premium"]}}
    first = webhook(client, app, event)
    assert first.status_code == 200 and first.json["action"] == "upgraded"
    assert webhook(client, app, event).json == first.json
    wallet = client.get("/api/v1/wallet", headers=auth).json
    assert wallet["granted"] == 100 + first.json["granted"]
    stale = webhook(client, app, {**event, "id": "evt_sub_2"}, at=time.time() - 3600)
    assert stale.status_code == 400 and stale.json["error"]["code"] == "stale_signature"
    bad = webhook(client, app, {"id": "evt_sub_3", "type": "subscription.updated", "data": {"user_id": user_id}})
    assert bad.status_code == 422
