"""The suite runs on real services: PostgreSQL and Redis when they answer, else SQLite and an embedded Redis.

CONVEYOR_TEST_DB=sqlite forces SQLite (`make test` runs the suite a second time that way).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest

TMP = Path(tempfile.mkdtemp(prefix="conveyor-tests-"))
# Before anything of the app is imported (tests.llm_support imports models and services):
# services/metrics.py places its samples under this directory when it is first imported.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(TMP / "metrics")

from tests.llm_support import LLM_ENV, start_fake_provider  # noqa: E402
from tests.services_up import POSTGRES_URL, REDIS_URL, answers  # noqa: E402

TEST_DB_NAME = f"conveyor_test_{os.getpid()}"


def _start_embedded_redis() -> str:
    from worker.launcher import start_embedded_redis

    port = 16379 + os.getpid() % 1000
    start_embedded_redis(port, TMP)
    return f"redis://127.0.0.1:{port}/15"


def _database_url() -> str:
    if os.environ.get("CONVEYOR_TEST_DB") == "sqlite" or not answers(POSTGRES_URL):
        return f"sqlite:///{TMP / 'test.db'}"
    import psycopg

    with psycopg.connect(POSTGRES_URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{TEST_DB_NAME}"')
    return POSTGRES_URL.rsplit("/", 1)[0] + f"/{TEST_DB_NAME}"


# The environment every process of the test run reads, the worker processes we start included.
_BROKER_URL = REDIS_URL if answers(REDIS_URL) else _start_embedded_redis()
TEST_ENV = {
    "CONVEYOR_ENV": "test",
    # The test environment has no secrets of its own: each is given, as in production.
    "SECRET_KEY": "test-secret-key-" + "k" * 32,
    "PAYMENT_WEBHOOK_SECRET": "test-webhook-secret",
    "METRICS_TOKEN": "test-metrics-token",
    "FLOWER_BASIC_AUTH": "flower:test-flower-password",
    "DATABASE_URL": _database_url(),
    "BROKER_URL": _BROKER_URL,
    "REDIS_URL": _BROKER_URL,
    "PROMETHEUS_MULTIPROC_DIR": str(TMP / "metrics"),
    "UPLOAD_DIR": str(TMP / "uploads"),
    "LOG_LEVEL": "WARNING",
    "LOG_JSON": "false",
    "JOB_LEASE_SECONDS": "3",
    "JOB_RETRY_BACKOFF_SECONDS": "0.05",
    "JOB_MAX_ATTEMPTS": "3",
    "OUTBOX_REDISPATCH_AFTER_SECONDS": "1",
    # The suite signs many users up and in from one address: generous limits here; the tests of the
    # limits themselves make apps with tight ones (tests/web/test_limits.py).
    "REGISTER_RATE_LIMIT": "10000/minute",
    "LOGIN_RATE_LIMIT": "10000/minute",
    "SUBMIT_RATE_LIMIT": "100000/minute",
    "SIGNUP_BONUS_PER_IP_PER_DAY": "100000",
    # LLM calls go to the fake provider (started by the fixture `fake_llm`).
    **LLM_ENV,
}
os.environ.update(TEST_ENV)
(TMP / "metrics").mkdir(exist_ok=True)

from sqlalchemy import text  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

from config import load_settings  # noqa: E402
from models import Base, Role  # noqa: E402
import tasks  # noqa: E402,F401  the in-process worker runs every kind
import tests.kinds  # noqa: E402,F401  and the kinds that only the tests use
from tests.support import ChildProcess, S3Server, WorkerProcess, make_user, stop_all  # noqa: E402
from web import create_app  # noqa: E402


def pytest_report_header(config):
    return f"conveyor: database {TEST_ENV['DATABASE_URL']}, broker {TEST_ENV['BROKER_URL']}"


def pytest_sessionfinish(session, exitstatus):
    if TEST_ENV["DATABASE_URL"].startswith("postgresql"):
        import psycopg

        with psycopg.connect(POSTGRES_URL.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DB_NAME}" WITH (FORCE)')


@pytest.fixture(scope="session")
def app():
    from alembic import command
    from alembic.config import Config

    config = Config(str(Path(__file__).resolve().parent.parent / "alembic.ini"))
    config.attributes.update(database_url=TEST_ENV["DATABASE_URL"], configure_logging=False)
    command.upgrade(config, "head")
    application = create_app(load_settings())
    application.config["TESTING"] = True
    # Every test starts from empty tables (clean_state empties them after each), the first one too:
    # without the tiers migration 0010 seeds, so a new user gets no subscription unless a test makes tiers.
    with application.extensions["conveyor"].db.engine.begin() as conn:
        conn.execute(text("DELETE FROM tiers"))
    yield application
    application.extensions["conveyor"].db.engine.dispose()


@pytest.fixture(scope="session")
def db(app):
    return app.extensions["conveyor"].db


@pytest.fixture(scope="session")
def celery_app(app):
    return app.extensions["celery"]


@pytest.fixture
def client(app):
    return app.test_client()


def purge_broker(celery_app) -> None:
    with celery_app.connection_for_write() as conn:
        for queue in celery_app.conf.task_queues:
            try:
                conn.default_channel.queue_purge(queue.name)
            except Exception:  # a queue nobody declared yet holds nothing
                pass


def _forget_live_state(app) -> None:
    """Job event streams and queue positions in Redis: each test starts without them."""
    from tasks.heartbeat import HEARTBEATS

    redis = app.extensions["conveyor"].redis
    HEARTBEATS.claimed.flush(redis)
    keys = list(redis.scan_iter("conveyor:*", count=1000))
    if keys:
        redis.delete(*keys)


@pytest.fixture(autouse=True)
def clean_state(app, db, celery_app):
    """Tests that need a worker share the database with it, so each test starts from empty tables."""
    purge_broker(celery_app)
    _forget_live_state(app)
    yield
    purge_broker(celery_app)
    _forget_live_state(app)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    for _ in range(10):  # a job the test left behind may still be finishing in the worker
        try:
            with db.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    # A TRUNCATE costs new files for every table it reaches (0.3 s a test): the tables
                    # the test wrote to are emptied by DELETE, dependents first, and the id sequences
                    # it drew from are restarted.
                    holding, drawn = _used(conn, tables)
                    for table in tables:
                        if table in holding:
                            conn.execute(text(f"DELETE FROM {table}"))
                    for sequence in drawn:
                        conn.execute(text(f"ALTER SEQUENCE {sequence} RESTART"))
                else:
                    conn.execute(text("PRAGMA defer_foreign_keys = ON"))  # rows that point at their own table
                    for table in tables:
                        conn.execute(text(f"DELETE FROM {table}"))
            return
        except OperationalError:
            time.sleep(0.2)
    raise RuntimeError("could not empty the test database")


def _used(conn, tables: list[str]) -> tuple[set[str], list[str]]:
    """The tables that hold rows, and the id sequences that handed out a value since their last restart."""
    holding = " UNION ALL ".join(f"SELECT '{t}' FROM (SELECT 1 FROM {t} LIMIT 1) AS {t}_rows" for t in tables)
    drawn = "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' AND last_value IS NOT NULL"
    return set(conn.execute(text(holding)).scalars()), list(conn.execute(text(drawn)).scalars())


@pytest.fixture
def session(db):
    """One transaction, rolled back after the test: for service tests that need no other process."""
    with db.Session() as s:
        s.begin()
        yield s
        s.rollback()


@pytest.fixture(scope="module")
def worker(app, celery_app):
    """A real Celery worker (threads pool) consuming every queue, for the tests of one module.

    Per module, not per session: the fault tests need the queues to themselves, for the workers
    they start and kill."""
    from celery.contrib.testing.worker import start_worker

    with start_worker(celery_app, pool="threads", concurrency=4, perform_ping_check=False,
                      shutdown_timeout=30, loglevel="WARNING"):
        yield


@pytest.fixture
def processes():
    """Start real processes of the stack (`start(argv, env)`) on the test environment; all stopped after."""
    started: list[ChildProcess] = []

    def start(argv: list[str], env: dict | None = None) -> ChildProcess:
        started.append(ChildProcess(argv, {**TEST_ENV, **(env or {})}))
        return started[-1]

    yield start
    stop_all(started)


@pytest.fixture
def worker_processes():
    """Start real worker processes (`start(concurrency=1, queues=..., env=...)`); all stopped after the test."""
    started: list[WorkerProcess] = []

    def start(env: dict | None = None, **options) -> WorkerProcess:
        started.append(WorkerProcess(TEST_ENV, extra_env=env, **options))
        return started[-1]

    yield start
    stop_all(started)


S3_BUCKET = "conveyor-test"


@pytest.fixture(scope="session")
def s3_server():
    """A real S3 protocol server (moto's server mode) for the session, with the bucket `S3_BUCKET`:
    the settings that point the app's storage at it."""
    import boto3

    server = S3Server()
    settings = {"STORAGE_BACKEND": "s3", "S3_BUCKET": S3_BUCKET, "S3_ENDPOINT_URL": server.url,
                "S3_REGION": "us-east-1", "S3_ACCESS_KEY_ID": "test", "S3_SECRET_ACCESS_KEY": "test"}
    boto3.client("s3", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="test",
                 aws_secret_access_key="test").create_bucket(Bucket=S3_BUCKET)
    yield settings
    server.stop()
@pytest.fixture(scope="session")
def fake_llm_server():
    """The fake LLM provider, a real HTTP server, once per test run."""
    server = []
    start_fake_provider(lambda argv: server.append(ChildProcess(argv, TEST_ENV)))
    yield
    server[0].stop()


@pytest.fixture
def fake_llm(fake_llm_server):
    """The fake provider, its behaviours and counts forgotten before each test."""
    import requests

    from tests.llm_support import FAKE_URL

    requests.post(f"{FAKE_URL}/_admin/reset", timeout=5)


@pytest.fixture
def customer(app):
    return make_user(app)


@pytest.fixture
def auth(customer):
    return customer[1]


@pytest.fixture
def admin(app):
    """The headers of a new admin."""
    return make_user(app, Role.admin)[1]


@pytest.fixture
def metrics_auth():
    return {"Authorization": f"Bearer {TEST_ENV['METRICS_TOKEN']}"}


@pytest.fixture
def make_app(celery_app, monkeypatch):
    """Another app on other settings (a broken broker, RabbitMQ); the suite's app is the default again after."""

    def make(**env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return create_app(load_settings())

    yield make
    celery_app.set_current()  # a new Celery app makes itself current (per thread) and default
    celery_app.set_default()
