"""Conveyor's settings: read once from the environment (and an optional `.env`), validated at start-up."""

from __future__ import annotations

import ipaddress
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from environs import Env, EnvError
from limits import parse_many
from marshmallow.validate import OneOf, Range

from config.secrets import development_secrets

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_URL = f"sqlite:///{ROOT / 'var' / 'conveyor.db'}"
# The secrets and their minimum lengths. Outside development each must be in the environment.
SECRETS = {"SECRET_KEY": 32, "PAYMENT_WEBHOOK_SECRET": 16, "METRICS_TOKEN": 16, "FLOWER_BASIC_AUTH": 3}


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
    refresh_token_days: int
    hash_concurrency: int
    oidc_issuer: str | None
    oidc_audience: str | None
    oidc_jwks_url: str | None
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
    metrics_token: str
    signup_bonus_credits: int
    payment_webhook_secrets: tuple[str, ...]  # any of them may sign a webhook (rotation)
    log_level: str
    log_json: bool
    # The web's edges: rate limits, the signup bonus cap, proxies, feature flags (see _read_limits_and_flags).
    register_rate_limit: str
    login_rate_limit: str
    submit_rate_limit: str
    login_failures_before_delay: int
    login_delay_max_seconds: int
    signup_bonus_per_ip_per_day: int
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    feature_flag_cache_seconds: float
    maintenance_retry_after_seconds: int
    # Sales (see _read_sales).
    sales_credits_per_unit: int
    sales_batch_step: int
    order_reservation_minutes: int
    invoice_font_path: str
    reports_max_days: int
    # Usage analytics (see _read_usage).
    usage_max_days: int
    usage_rollup_grace_seconds: int
    # Subscriptions (see _read_subscriptions).
    refresh_batch_size: int
    # Files (imports, exports): see _read_storage.
    storage_backend: str
    upload_dir: str
    storage_expire_hours: int
    s3_bucket: str | None
    s3_prefix: str
    s3_endpoint_url: str | None
    s3_region: str | None
    s3_access_key_id: str | None
    s3_secret_access_key: str | None
    import_max_bytes: int
    import_batch_rows: int
    # LLM calls: see _read_llm.
    llm_providers_file: str | None
    llm_providers: str | None
    llm_cooldown_seconds: float
    llm_retry_backoff_seconds: float
    llm_retry_after_max_seconds: float
    llm_moderation_words: tuple[str, ...]
    llm_moderation_patterns: tuple[str, ...]
    llm_moderation_provider: str | None
    llm_default_max_tokens: int

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


def _webhook_secrets(value: str) -> tuple[str, ...]:
    """Comma-separated: during a rotation both the old and the new secret are configured."""
    secrets = tuple(secret.strip() for secret in value.split(","))
    if not all(len(secret) >= SECRETS["PAYMENT_WEBHOOK_SECRET"] for secret in secrets):
        raise EnvError("PAYMENT_WEBHOOK_SECRET must be one or more comma-separated secrets of at least "
                       f"{SECRETS['PAYMENT_WEBHOOK_SECRET']} characters each")
    return secrets


def _read_secrets(env: Env, app_env: str) -> dict[str, str]:
    """Each secret from the environment; in development only, a missing one comes from `var/secrets.json`."""
    generated = None
    values = {}
    for name, min_length in SECRETS.items():
        value = env.str(name, None)
        if value is None:
            if app_env != "development":
                raise EnvError(f"{name} must be set when CONVEYOR_ENV={app_env} "
                               "(only `make run`, in development, generates secrets of its own)")
            generated = generated or development_secrets(ROOT / "var")
            value = generated[name]
        if len(value) < min_length:
            raise EnvError(f"{name} must be at least {min_length} characters")
        values[name] = value
    if ":" not in values["FLOWER_BASIC_AUTH"]:
        raise EnvError("FLOWER_BASIC_AUTH must be user:password")
    return values


def _read(env: Env) -> Settings:
    # Fail closed: a start that does not say otherwise is a production start and needs real secrets.
    app_env = env.str("CONVEYOR_ENV", "production", validate=OneOf(["development", "production", "test"]))
    database_url = _normalise_database_url(env.str("DATABASE_URL", DEFAULT_SQLITE_URL))
    broker_url = env.str("BROKER_URL", "redis://127.0.0.1:6379/0")
    if not broker_url.startswith(("redis://", "rediss://", "amqp://", "amqps://", "pyamqp://")):
        raise EnvError("BROKER_URL must be a redis:// or amqp:// URL")
    # Live job events and shared state need Redis, even when the broker is RabbitMQ.
    redis_url = env.str("REDIS_URL", broker_url if broker_url.startswith("redis") else "redis://127.0.0.1:6379/0")
    if not redis_url.startswith(("redis://", "rediss://")):
        raise EnvError("REDIS_URL must be a redis:// or rediss:// URL")
    secrets = _read_secrets(env, app_env)
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
        secret_key=secrets["SECRET_KEY"],
        jwt_lifetime_seconds=env.int("JWT_LIFETIME_SECONDS", 900, validate=positive),
        refresh_token_days=env.int("REFRESH_TOKEN_DAYS", 30, validate=Range(1, 3650)),
        hash_concurrency=env.int("HASH_CONCURRENCY", 2, validate=Range(1, 64)),
        oidc_issuer=env.str("OIDC_ISSUER", None) or None,
        oidc_audience=env.str("OIDC_AUDIENCE", None) or None,
        oidc_jwks_url=env.str("OIDC_JWKS_URL", None) or None,
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
        flower_basic_auth=secrets["FLOWER_BASIC_AUTH"],
        metrics_token=secrets["METRICS_TOKEN"],
        signup_bonus_credits=env.int("SIGNUP_BONUS_CREDITS", 100, validate=non_negative),
        payment_webhook_secrets=_webhook_secrets(secrets["PAYMENT_WEBHOOK_SECRET"]),
        log_level=env.log_level("LOG_LEVEL", "INFO"),
        log_json=env.bool("LOG_JSON", app_env != "development"),
        **_read_limits_and_flags(env),
        **_read_sales(env),
        **_read_storage(env),
        **_read_usage(env),
        **_read_llm(env),
        **_read_subscriptions(env),
    )


def _rate_limit(env: Env, name: str, default: str) -> str:
    """A Flask-Limiter rate string ("5/minute;50/day"), checked now rather than at the first request."""
    value = env.str(name, default)
    try:
        parse_many(value)
    except ValueError as exc:
        raise EnvError(f"{name} must be rate limits such as '5/minute;50/day'") from exc
    return value


def _networks(env: Env, name: str) -> tuple:
    try:
        return tuple(ipaddress.ip_network(item, strict=False) for item in env.list(name, []) if item.strip())
    except ValueError as exc:
        raise EnvError(f"{name} must be a comma-separated list of IP addresses or networks") from exc


def _read_limits_and_flags(env: Env) -> dict:
    """Rate limits, the signup bonus cap, trusted proxies and feature flags (README section 9)."""
    positive = Range(min=1)
    return {
        "register_rate_limit": _rate_limit(env, "REGISTER_RATE_LIMIT", "5/minute;50/day"),
        "login_rate_limit": _rate_limit(env, "LOGIN_RATE_LIMIT", "20/minute"),
        "submit_rate_limit": _rate_limit(env, "SUBMIT_RATE_LIMIT", "600/minute"),
        "login_failures_before_delay": env.int("LOGIN_FAILURES_BEFORE_DELAY", 5, validate=positive),
        "login_delay_max_seconds": env.int("LOGIN_DELAY_MAX_SECONDS", 900, validate=positive),
        "signup_bonus_per_ip_per_day": env.int("SIGNUP_BONUS_PER_IP_PER_DAY", 3, validate=Range(min=0)),
        "trusted_proxies": _networks(env, "TRUSTED_PROXIES"),
        "feature_flag_cache_seconds": env.float("FEATURE_FLAG_CACHE_SECONDS", 5.0, validate=Range(min=0)),
        "maintenance_retry_after_seconds": env.int("MAINTENANCE_RETRY_AFTER_SECONDS", 60, validate=positive),
    }


def _read_subscriptions(env: Env) -> dict:
    # How many due subscriptions one step of the refresh claims and commits together.
    return {"refresh_batch_size": env.int("REFRESH_BATCH_SIZE", 1000, validate=Range(1, 5000))}


def _read_sales(env: Env) -> dict:
    return {
        # What one unit of the shop's currency costs in credits, for a sale paid with credits.
        "sales_credits_per_unit": env.int("SALES_CREDITS_PER_UNIT", 100, validate=Range(1, 1_000_000)),
        # How many sales of an offline batch commit together (each still all or nothing on its own).
        "sales_batch_step": env.int("SALES_BATCH_STEP", 50, validate=Range(1, 1000)),
        # How long a pending order holds its stock before beat expires it.
        "order_reservation_minutes": env.int("ORDER_RESERVATION_MINUTES", 30, validate=Range(1, 525_600)),
        # A TrueType font for invoice PDFs (any script prints); when the file is absent, Helvetica (Latin-1).
        "invoice_font_path": env.str("INVOICE_FONT_PATH", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        # The longest range of days a report reads or a rebuild recomputes at once.
        "reports_max_days": env.int("REPORTS_MAX_DAYS", 366, validate=Range(1, 3660)),
    }


def _read_usage(env: Env) -> dict:
    return {
        # The longest range of days a usage query reads at once.
        "usage_max_days": env.int("USAGE_MAX_DAYS", 366, validate=Range(1, 3660)),
        # How long a write transaction may take to commit: the rollup looks this far back behind its watermarks.
        "usage_rollup_grace_seconds": env.int("USAGE_ROLLUP_GRACE_SECONDS", 300, validate=Range(1, 86_400)),
    }


def _read_storage(env: Env) -> dict:
    backend = env.str("STORAGE_BACKEND", "local", validate=OneOf(["local", "s3"]))
    bucket = env.str("S3_BUCKET", None) or None
    if backend == "s3" and bucket is None:
        raise EnvError("S3_BUCKET must be set when STORAGE_BACKEND=s3")
    key_id, secret = env.str("S3_ACCESS_KEY_ID", None) or None, env.str("S3_SECRET_ACCESS_KEY", None) or None
    if (key_id is None) != (secret is None):
        raise EnvError("S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together (or neither: boto3's default chain)")
    prefix = env.str("S3_PREFIX", "").strip("/")
    return {
        # Where uploaded and exported files are kept: a directory every worker can read, or S3.
        "storage_backend": backend,
        "upload_dir": env.str("UPLOAD_DIR", str(ROOT / "var" / "uploads")),
        # Stored files older than this are deleted by beat's expiry job (exports then answer 410).
        "storage_expire_hours": env.int("STORAGE_EXPIRE_HOURS", 168, validate=Range(1, 87_600)),
        "s3_bucket": bucket,
        "s3_prefix": f"{prefix}/" if prefix else "",
        "s3_endpoint_url": env.str("S3_ENDPOINT_URL", None) or None,  # MinIO, R2, moto ...; unset: AWS
        "s3_region": env.str("S3_REGION", None) or None,
        "s3_access_key_id": key_id,
        "s3_secret_access_key": secret,
        # The largest file POST /api/v1/imports takes (every other endpoint: MAX_REQUEST_BYTES).
        "import_max_bytes": env.int("IMPORT_MAX_BYTES", 100 * 1024 * 1024, validate=Range(min=1)),
        # Rows an import validates and writes per step (one transaction, one resume point).
        "import_batch_rows": env.int("IMPORT_BATCH_ROWS", 5000, validate=Range(1, 50_000)),
    }


def _read_llm(env: Env) -> dict:
    """The providers' configuration is parsed (and checked) by services/llm/providers.py at first use."""
    patterns = tuple(env.json("LLM_MODERATION_PATTERNS", []))
    for pattern in patterns:
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise EnvError(f"LLM_MODERATION_PATTERNS: {pattern!r} is not a regular expression") from exc
    return {
        # A JSON or TOML file describing providers and models, or the same JSON inline.
        "llm_providers_file": env.str("LLM_PROVIDERS_FILE", None) or None,
        "llm_providers": env.str("LLM_PROVIDERS", None) or None,
        # How long a provider that kept failing is skipped by every worker.
        "llm_cooldown_seconds": env.float("LLM_COOLDOWN_SECONDS", 30.0, validate=Range(min=0)),
        # The first retry's backoff (doubling, with jitter) when a provider sends no Retry-After.
        "llm_retry_backoff_seconds": env.float("LLM_RETRY_BACKOFF_SECONDS", 0.5, validate=Range(min=0)),
        # A longer Retry-After than this moves on to the next provider rather than waiting.
        "llm_retry_after_max_seconds": env.float("LLM_RETRY_AFTER_MAX_SECONDS", 10.0, validate=Range(min=0)),
        "llm_moderation_words": tuple(w.strip().lower() for w in env.list("LLM_MODERATION_WORDS", []) if w.strip()),
        "llm_moderation_patterns": patterns,
        "llm_moderation_provider": env.str("LLM_MODERATION_PROVIDER", None) or None,
        "llm_default_max_tokens": env.int("LLM_DEFAULT_MAX_TOKENS", 512, validate=Range(1, 1_000_000)),
    }


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
