"""The LLM tests' fake provider (a real server, `python -m web.fake_provider`), its configuration, and helpers."""

from __future__ import annotations

import json
import sys
import time
from decimal import Decimal

import requests
from sqlalchemy import select

from models import Subscription, SubscriptionStatus, Tier
from models.base import utcnow
from services import billing
from tests.support import free_port


FAKE_PORT = free_port()
FAKE_URL = f"http://127.0.0.1:{FAKE_PORT}"
# Two providers on the one fake server. Prices make a token worth a visible fraction of a credit:
# 0.1 credit per prompt token, 1 credit per completion token.
PRICES = {"input_price": "100000", "output_price": "1000000", "context_window": 4096}
PROVIDERS = {"providers": [
    {"name": "primary", "base_url": f"{FAKE_URL}/p/primary/v1", "timeout": 1.0, "max_retries": 2,
     "models": {"fake-chat": PRICES, "fake-solo": PRICES}},
    {"name": "backup", "base_url": f"{FAKE_URL}/p/backup/v1", "timeout": 1.0, "max_retries": 1,
     "models": {"fake-chat": PRICES}},
]}
LLM_ENV = {
    "LLM_PROVIDERS": json.dumps(PROVIDERS),
    "LLM_COOLDOWN_SECONDS": "60",
    "LLM_RETRY_BACKOFF_SECONDS": "0.05",
    "LLM_MODERATION_WORDS": "forbidden,contraband",
    "LLM_MODERATION_PATTERNS": json.dumps([r"\bkill\s+all\b"]),
}


def start_fake_provider(processes_start) -> None:
    processes_start([sys.executable, "-m", "web.fake_provider", "--port", str(FAKE_PORT)])
    for _ in range(100):
        try:
            requests.post(f"{FAKE_URL}/_admin/reset", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError("the fake provider did not start")


def behave(provider: str, **behaviour) -> None:
    """Set a provider's behaviour on the fake (see web/fake_provider.py)."""
    requests.post(f"{FAKE_URL}/_admin/providers/{provider}", json=behaviour, timeout=5).raise_for_status()


def requests_to(provider: str) -> list[float]:
    return requests.get(f"{FAKE_URL}/_admin/stats", timeout=5).json()["requests"].get(provider, [])


def seed_tier(db, name: str = "free", *, multiplier: str = "1", rpm: int | None = None, tpm: int | None = None,
              concurrent: int | None = None) -> int:
    """The tier `name` with these terms (made, or set when the migration's seed is still there); `free` is
    every unsubscribed user's."""
    with db.Session.begin() as session:
        tier = session.scalar(select(Tier).where(Tier.name == name)) or Tier(name=name, period="monthly")
        tier.credits_per_period, tier.price_multiplier = 0, Decimal(multiplier)
        tier.requests_per_minute, tier.tokens_per_minute, tier.concurrent_jobs = rpm, tpm, concurrent
        session.add(tier)
        session.flush()
        tier_id = tier.id
    from tasks.llm import _terms  # not at import: conftest imports this module before the test environment is set

    _terms.clear()  # the in-process worker's cache of terms: user ids start again at 1 in each test
    return tier_id


def subscribe(db, user_id: int, tier_id: int) -> None:
    """The user on `tier_id` (replacing the `free` subscription registration gave them, if any)."""
    now = utcnow()
    with db.Session.begin() as session:
        subscription = session.scalar(select(Subscription).where(Subscription.user_id == user_id))
        if subscription is None:
            subscription = Subscription(user_id=user_id, period_granted=0)
            session.add(subscription)
        subscription.tier_id, subscription.status, subscription.anchor_at = tier_id, SubscriptionStatus.active, now
        subscription.period_start, subscription.period_end = now, now.replace(year=now.year + 1)


def fund(db, user_id: int, credits: int) -> None:
    with db.Session.begin() as session:
        billing.top_up(session, user_id, credits, event_id=f"seed-{user_id}-{credits}-{time.time()}")


def funded_user(app, db, credits: int = 1000) -> tuple[int, dict]:
    """A user on the `free` tier (free terms: no limits, multiplier 1) with `credits` purchased credits."""
    from tests.support import make_user

    seed_tier(db)
    user_id, headers = make_user(app)
    fund(db, user_id, credits)
    return user_id, headers


def balance(client, headers) -> dict:
    return client.get("/api/v1/wallet", headers=headers).json
