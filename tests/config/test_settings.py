"""Settings come from the environment and stop the process with the variable's name when wrong."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys

import pytest
from environs import EnvError

from config import ROOT, load_settings
from config.secrets import development_secrets

SECRETS = {"SECRET_KEY": "k" * 32, "PAYMENT_WEBHOOK_SECRET": "w" * 16, "METRICS_TOKEN": "m" * 16,
           "FLOWER_BASIC_AUTH": "a:b"}
PRODUCTION = {"CONVEYOR_ENV": "production", **SECRETS}


def start_with(env: dict) -> subprocess.CompletedProcess:
    """Read the settings as every process does at start, in a fresh process on `env` alone."""
    return subprocess.run([sys.executable, "-c", "from config import load_settings_or_exit; load_settings_or_exit()"],
                          cwd=ROOT,
                          env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=60)


def without(env: dict, name: str) -> dict:
    return {k: v for k, v in env.items() if k != name}


@pytest.mark.parametrize("env, named", [
    ({**PRODUCTION, "JOB_LEASE_SECONDS": "soon"}, "JOB_LEASE_SECONDS"),
    ({**PRODUCTION, "DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
    ({**PRODUCTION, "BROKER_URL": "kafka://x"}, "BROKER_URL"),
    ({**PRODUCTION, "MAX_WAIT_SECONDS": "31"}, "MAX_WAIT_SECONDS"),
    ({**PRODUCTION, "REDIS_URL": "amqp://x"}, "REDIS_URL"),
    ({**PRODUCTION, "JOB_SOFT_TIME_LIMIT_SECONDS": "60", "JOB_TIME_LIMIT_SECONDS": "60"}, "JOB_TIME_LIMIT_SECONDS"),
    ({**PRODUCTION, "IO_WORKER_CONCURRENCY": "0"}, "IO_WORKER_CONCURRENCY"),
    ({**PRODUCTION, "REAPER_INTERVAL_SECONDS": "0"}, "REAPER_INTERVAL_SECONDS"),
    # Every secret is required outside development, in production and in test alike.
    *[(without(PRODUCTION, name), name) for name in SECRETS],
    *[({**without(PRODUCTION, name), "CONVEYOR_ENV": "test"}, name) for name in SECRETS],
    ({**PRODUCTION, "SECRET_KEY": "short"}, "SECRET_KEY"),
    ({**PRODUCTION, "PAYMENT_WEBHOOK_SECRET": "dev-webhook"}, "PAYMENT_WEBHOOK_SECRET"),
    ({**PRODUCTION, "FLOWER_BASIC_AUTH": "no-colon"}, "FLOWER_BASIC_AUTH"),
    # No CONVEYOR_ENV at all is a production start.
    (without(without(PRODUCTION, "CONVEYOR_ENV"), "SECRET_KEY"), "SECRET_KEY"),
    ({**PRODUCTION, "LOGIN_RATE_LIMIT": "lots"}, "LOGIN_RATE_LIMIT"),
    ({**PRODUCTION, "TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"}, "TRUSTED_PROXIES"),
    ({**PRODUCTION, "STORAGE_BACKEND": "s3"}, "S3_BUCKET"),
    ({**PRODUCTION, "STORAGE_BACKEND": "s3", "S3_BUCKET": "b", "S3_ACCESS_KEY_ID": "k"}, "S3_SECRET_ACCESS_KEY"),
    ({**PRODUCTION, "STORAGE_EXPIRE_HOURS": "0"}, "STORAGE_EXPIRE_HOURS"),
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
    for name in ("DATABASE_URL", "BROKER_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CONVEYOR_ENV", "development")
    settings = load_settings()
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith("var/conveyor.db")
    assert settings.broker_url == settings.redis_url == "redis://127.0.0.1:6379/0" and settings.development


def test_events_need_redis_even_with_a_rabbitmq_broker(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("BROKER_URL", "amqp://guest:guest@rabbit:5672//")
    assert load_settings().redis_url == "redis://127.0.0.1:6379/0"


def test_development_secrets_are_generated_per_install_and_kept_private(tmp_path):
    first = development_secrets(tmp_path / "one")
    assert development_secrets(tmp_path / "one") == first  # kept: tokens stay valid across restarts
    other = development_secrets(tmp_path / "two")
    assert all(first[name] != other[name] for name in SECRETS)  # nothing shared between installs
    assert len(first["SECRET_KEY"]) >= 32
    assert stat.S_IMODE(os.stat(tmp_path / "one" / "secrets.json").st_mode) == 0o600


def test_a_server_started_from_the_procfile_without_secrets_refuses_to_start(tmp_path):
    """The Procfile's own web line, on an environment with no secrets and no CONVEYOR_ENV."""
    line = next(l for l in (ROOT / "Procfile").read_text().splitlines() if l.startswith("web:"))
    env = {"PATH": f"{os.path.dirname(sys.executable)}:/usr/bin:/bin", "HOST": "127.0.0.1", "PORT": "0",
           "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    # Its own process group: if it did start, the whole group (gunicorn's master and workers) goes.
    proc = subprocess.Popen(line.split(":", 1)[1], shell=True, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError("the web started without its secrets") from None
    assert proc.returncode != 0
    assert "SECRET_KEY must be set" in stderr


def test_webhook_secrets_are_a_comma_separated_list(monkeypatch):
    monkeypatch.setenv("PAYMENT_WEBHOOK_SECRET", "the-old-secret-16, the-new-secret-16")
    assert load_settings().payment_webhook_secrets == ("the-old-secret-16", "the-new-secret-16")
    for value in ("the-old-secret-16,,the-new-secret-16", "the-old-secret-16,short"):
        monkeypatch.setenv("PAYMENT_WEBHOOK_SECRET", value)
        with pytest.raises(EnvError, match="PAYMENT_WEBHOOK_SECRET"):
            load_settings()


def test_s3_settings_keys_go_under_one_prefix_and_credentials_may_come_from_boto3s_chain(monkeypatch):
    for name, value in {"STORAGE_BACKEND": "s3", "S3_BUCKET": "files", "S3_PREFIX": "/conveyor/prod/"}.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert (settings.s3_bucket, settings.s3_prefix, settings.s3_access_key_id) == ("files", "conveyor/prod/", None)
