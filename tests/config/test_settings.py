"""Settings come from the environment and stop the process with the variable's name when wrong."""

from __future__ import annotations

import subprocess
import sys

import pytest
from environs import EnvError

from config import ROOT, load_settings


def start_with(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from web import create_app; create_app()"], cwd=ROOT,
                          env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("env, named", [
    ({"JOB_LEASE_SECONDS": "soon"}, "JOB_LEASE_SECONDS"),
    ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
    ({"BROKER_URL": "kafka://x"}, "BROKER_URL"),
    ({"CONVEYOR_ENV": "production", "FLOWER_BASIC_AUTH": "a:b", "PAYMENT_WEBHOOK_SECRET": "w" * 16}, "SECRET_KEY"),
    ({"CONVEYOR_ENV": "production", "SECRET_KEY": "short", "FLOWER_BASIC_AUTH": "a:b",
      "PAYMENT_WEBHOOK_SECRET": "w" * 16}, "SECRET_KEY"),
    ({"MAX_WAIT_SECONDS": "31"}, "MAX_WAIT_SECONDS"),
    ({"REDIS_URL": "amqp://x"}, "REDIS_URL"),
    ({"JOB_SOFT_TIME_LIMIT_SECONDS": "60", "JOB_TIME_LIMIT_SECONDS": "60"}, "JOB_TIME_LIMIT_SECONDS"),
    ({"IO_WORKER_CONCURRENCY": "0"}, "IO_WORKER_CONCURRENCY"),
    ({"REAPER_INTERVAL_SECONDS": "0"}, "REAPER_INTERVAL_SECONDS"),
    ({"CONVEYOR_ENV": "production", "SECRET_KEY": "k" * 32, "FLOWER_BASIC_AUTH": "a:b"}, "PAYMENT_WEBHOOK_SECRET"),
    ({"CONVEYOR_ENV": "production", "SECRET_KEY": "k" * 32, "FLOWER_BASIC_AUTH": "a:b",
      "PAYMENT_WEBHOOK_SECRET": "dev-webhook-secret"}, "PAYMENT_WEBHOOK_SECRET"),
])
def test_a_bad_variable_stops_start_up_naming_it(env, named, tmp_path):
    result = start_with({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", **env})
    assert result.returncode == 2
    assert named in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgresql+psycopg://u@h/db", "postgres://u@h/db"])
def test_postgres_urls_use_psycopg3(monkeypatch, url):
    monkeypatch.setenv("DATABASE_URL", url)
    assert load_settings().database_url == "postgresql+psycopg://u@h/db"


def test_defaults_are_the_embedded_stack(monkeypatch):
    for name in ("DATABASE_URL", "BROKER_URL", "REDIS_URL", "CONVEYOR_ENV"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith("var/conveyor.db")
    assert settings.broker_url == settings.redis_url == "redis://127.0.0.1:6379/0" and settings.development


def test_events_need_redis_even_with_a_rabbitmq_broker(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("BROKER_URL", "amqp://guest:guest@rabbit:5672//")
    assert load_settings().redis_url == "redis://127.0.0.1:6379/0"


def test_webhook_secrets_are_a_comma_separated_list(monkeypatch):
    monkeypatch.setenv("PAYMENT_WEBHOOK_SECRET", "old-secret, new-secret")
    assert load_settings().payment_webhook_secrets == ("old-secret", "new-secret")
    monkeypatch.setenv("PAYMENT_WEBHOOK_SECRET", "old-secret,,new-secret")
    with pytest.raises(EnvError, match="PAYMENT_WEBHOOK_SECRET"):
        load_settings()
