"""/healthz (the process lives) and /readyz (the database, the broker and Redis answer).

Answers say only `ok` or `fail` per dependency: why a check failed goes to the log, never to a client."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy import text

from web.errors import error_response
from worker.runtime import get_celery, get_db, get_runtime

log = logging.getLogger(__name__)
blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


def _check_database() -> None:
    with get_db().read() as session:
        session.execute(text("SELECT 1"))


def _check_broker() -> None:
    with get_celery().connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def _check_redis() -> None:
    get_runtime().redis.ping()


CHECKS = {"database": _check_database, "broker": _check_broker, "redis": _check_redis}


@blp.get("/readyz")
def readyz():
    checks = {}
    for name, check in CHECKS.items():
        try:
            check()
            checks[name] = "ok"
        except Exception:  # any failure means not ready; the log says why
            log.warning("readiness check failed: %s", name, exc_info=True)
            checks[name] = "fail"
    if all(v == "ok" for v in checks.values()):
        return jsonify({"status": "ready", "checks": checks})
    failed = [name for name, v in checks.items() if v != "ok"]
    return error_response(503, "not_ready", f"not ready: {', '.join(failed)} unavailable", checks)
