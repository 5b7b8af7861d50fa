"""Conveyor's settings: read once from the environment (and an optional `.env`), validated at start-up."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from environs import Env, EnvError
from marshmallow.validate import OneOf, Range

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_URL = f"sqlite:///{ROOT / 'var' / 'conveyor.db'}"
DEV_SECRET_KEY = "dev-only-secret-key-change-me-0123456789"
DEV_WEBHOOK_SECRET = "dev-webhook-secret"


@dataclass(frozen=True)
class Settings:
    env: str
    database_url: str
    db_pool_size: int
    db_max_overflow: int
    broker_url: str
    redis_url: str
    secret_key: str
    jwt_lifetime_seconds: int
    job_max_attempts: int
    job_lease_seconds: int
    job_retry_backoff_seconds: float
    job_retry_backoff_max_seconds: float
    job_retention_days: int
    job_soft_time_limit_seconds: float
    job_time_limit_seconds: float
    outbox_redispatch_after_seconds: int
    outbox_batch_size: int
    outbox_interval_seconds: float
    reaper_interval_seconds: float
    max_request_bytes: int
    max_wait_seconds: int
    worker_concurrency: int
    io_worker_concurrency: int
    stream_keepalive_seconds: float
    job_stream_ttl_seconds: int
    flower_basic_auth: str
    signup_bonus_credits: int
    payment_webhook_secrets: tuple[str, ...]  # any of them may sign a webhook (rotation)
    log_level: str
    log_json: bool

    @property
    def development(self) -> bool:
        return self.env == "development"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _normalise_database_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here; SQLAlchemy would otherwise pick psycopg2."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if not url.startswith(("postgresql+psycopg://", "sqlite:///")):
        raise EnvError("DATABASE_URL must be a postgresql://, postgresql+psycopg:// or sqlite:/// URL")
    return url


def _read(env: Env) -> Settings:
    app_env = env.str("CONVEYOR_ENV", "development", validate=OneOf(["development", "production", "test"]))
    database_url = _normalise_database_url(env.str("DATABASE_URL", DEFAULT_SQLITE_URL))
    broker_url = env.str("BROKER_URL", "redis://127.0.0.1:6379/0")
    if not broker_url.startswith(("redis://", "rediss://", "amqp://", "amqps://", "pyamqp://")):
        raise EnvError("BROKER_URL must be a redis:// or amqp:// URL")
    # Live job events and shared state need Redis, even when the broker is RabbitMQ.
    redis_url = env.str("REDIS_URL", broker_url if broker_url.startswith("redis") else "redis://127.0.0.1:6379/0")
    if not redis_url.startswith(("redis://", "rediss://")):
        raise EnvError("REDIS_URL must be a redis:// or rediss:// URL")
    production = app_env == "production"
    # Outside development these have no default: environs then stops with "... not set".
    secret_key = env.str("SECRET_KEY") if production else env.str("SECRET_KEY", DEV_SECRET_KEY)
    if production and (secret_key == DEV_SECRET_KEY or len(secret_key) < 32):
        raise EnvError("SECRET_KEY must be set to at least 32 characters outside development")
    # Comma-separated: during a rotation both the old and the new secret are configured.
    webhook_secrets = tuple(secret.strip() for secret in (
        env.str("PAYMENT_WEBHOOK_SECRET") if production else env.str("PAYMENT_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET)
    ).split(","))
    if not all(webhook_secrets) or production and any(
            secret == DEV_WEBHOOK_SECRET or len(secret) < 16 for secret in webhook_secrets):
        raise EnvError("PAYMENT_WEBHOOK_SECRET must be one or more comma-separated secrets, each at least "
                       "16 characters outside development")
    positive, non_negative = Range(min=1), Range(min=0)
    soft_limit = env.float("JOB_SOFT_TIME_LIMIT_SECONDS", 300.0, validate=Range(min=0, min_inclusive=False))
    hard_limit = env.float("JOB_TIME_LIMIT_SECONDS", 360.0, validate=Range(min=0, min_inclusive=False))
    if hard_limit <= soft_limit:
        raise EnvError("JOB_TIME_LIMIT_SECONDS must be greater than JOB_SOFT_TIME_LIMIT_SECONDS")
    return Settings(
        env=app_env,
        database_url=database_url,
        db_pool_size=env.int("DB_POOL_SIZE", 10, validate=positive),
        db_max_overflow=env.int("DB_MAX_OVERFLOW", 10, validate=non_negative),
        broker_url=broker_url,
        redis_url=redis_url,
        secret_key=secret_key,
        jwt_lifetime_seconds=env.int("JWT_LIFETIME_SECONDS", 3600, validate=positive),
        job_max_attempts=env.int("JOB_MAX_ATTEMPTS", 5, validate=positive),
        job_lease_seconds=env.int("JOB_LEASE_SECONDS", 30, validate=Range(min=2)),
        job_retry_backoff_seconds=env.float("JOB_RETRY_BACKOFF_SECONDS", 1.0, validate=non_negative),
        job_retry_backoff_max_seconds=env.float("JOB_RETRY_BACKOFF_MAX_SECONDS", 300.0, validate=Range(min=0, min_inclusive=False)),
        job_retention_days=env.int("JOB_RETENTION_DAYS", 30, validate=positive),
        job_soft_time_limit_seconds=soft_limit,
        job_time_limit_seconds=hard_limit,
        outbox_redispatch_after_seconds=env.int("OUTBOX_REDISPATCH_AFTER_SECONDS", 60, validate=positive),
        outbox_batch_size=env.int("OUTBOX_BATCH_SIZE", 500, validate=positive),
        outbox_interval_seconds=env.float("OUTBOX_INTERVAL_SECONDS", 15.0, validate=Range(min=0.1)),
        reaper_interval_seconds=env.float("REAPER_INTERVAL_SECONDS", 10.0, validate=Range(min=0.1)),
        max_request_bytes=env.int("MAX_REQUEST_BYTES", 1_048_576, validate=positive),
        max_wait_seconds=env.int("MAX_WAIT_SECONDS", 30, validate=Range(0, 30)),
        worker_concurrency=env.int("WORKER_CONCURRENCY", 2, validate=positive),
        io_worker_concurrency=env.int("IO_WORKER_CONCURRENCY", 100, validate=Range(1, 10_000)),
        stream_keepalive_seconds=env.float("STREAM_KEEPALIVE_SECONDS", 15.0, validate=Range(min=0.1, max=300)),
        job_stream_ttl_seconds=env.int("JOB_STREAM_TTL_SECONDS", 3600, validate=positive),
        flower_basic_auth=env.str("FLOWER_BASIC_AUTH") if production else env.str("FLOWER_BASIC_AUTH", "admin:admin"),
        signup_bonus_credits=env.int("SIGNUP_BONUS_CREDITS", 100, validate=non_negative),
        payment_webhook_secrets=webhook_secrets,
        log_level=env.log_level("LOG_LEVEL", "INFO"),
        log_json=env.bool("LOG_JSON", app_env != "development"),
    )


def load_settings() -> Settings:
    """Read and validate the settings from the environment and `.env` (which never overrides it)."""
    env = Env(expand_vars=True)
    env.read_env(str(ROOT / ".env"), recurse=False)
    return _read(env)


def load_settings_or_exit() -> Settings:
    """For process start-up: a bad variable stops the process with a message naming it."""
    try:
        return load_settings()
    except (EnvError, ValueError) as exc:
        sys.stderr.write(f"conveyor: invalid configuration: {exc}\n")
        raise SystemExit(2) from exc
