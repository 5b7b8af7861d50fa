"""The runtime the whole app shares: settings, database, Celery, Redis and live job events.

The web and the tasks both reach it through the Flask app (`get_runtime()` inside an app or
request context), never through each other. `create_runtime_app` builds it; the web adds its
blueprints on top, the worker entry point uses it as it is.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from celery import Celery
from flask import Flask, current_app
from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from config import Settings, load_settings_or_exit
from config.logging import configure_logging
from models.database import Database, make_database
from services.llm.providers import catalogue
from worker.job_events import JobEventLog
from worker.subscriptions import Subscriptions

KEY = "conveyor"


@dataclass
class Runtime:
    settings: Settings
    db: Database
    redis: Redis
    events: JobEventLog
    subscriptions: Subscriptions
    celery: Celery | None = None


def create_runtime_app(settings: Settings | None = None, *, db_pre_ping: bool = True) -> Flask:
    """A Flask app carrying the runtime. `db_pre_ping`: see models.database.make_database."""
    settings = settings or load_settings_or_exit()
    configure_logging(settings)
    _check_llm_providers(settings)
    app = Flask("conveyor")
    # A Redis that is away must cost a request or a job a second or two, never a long stall.
    redis = Redis.from_url(settings.redis_url, decode_responses=True, socket_timeout=5, socket_connect_timeout=2,
                           health_check_interval=30, retry=Retry(ExponentialBackoff(cap=0.5), 2))
    runtime = Runtime(
        settings=settings,
        db=make_database(settings.database_url, settings.db_pool_size, settings.db_max_overflow,
                         pre_ping=db_pre_ping),
        redis=redis, events=JobEventLog(redis, settings.job_stream_ttl_seconds), subscriptions=Subscriptions(redis))
    app.extensions[KEY] = runtime

    from worker.after_commit import install
    from worker.celery_app import celery_init_app

    runtime.celery = celery_init_app(app, settings)
    install(runtime)
    return app


def _check_llm_providers(settings: Settings) -> None:
    """A broken LLM providers configuration stops the start, naming what is wrong, not every call later."""
    try:
        catalogue(settings)
    except (OSError, ValueError) as exc:  # ConfigError, a bad JSON or TOML document, a missing file
        sys.stderr.write(f"conveyor: invalid LLM providers configuration: {exc}\n")
        raise SystemExit(2) from exc


def get_runtime() -> Runtime:
    return current_app.extensions[KEY]


def get_settings() -> Settings:
    return get_runtime().settings


def get_db() -> Database:
    return get_runtime().db


def get_celery() -> Celery:
    """This app's Celery (not `celery.current_app`, which is whichever app was made last)."""
    return get_runtime().celery
