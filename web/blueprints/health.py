"""/healthz (the process lives) and /readyz (the database and the broker answer)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from web.errors import error_response
from worker.runtime import get_celery, get_db

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


@blp.get("/readyz")
def readyz():
    checks = {}
    for name, check in (("database", _check_database), ("broker", _check_broker)):
        try:
            check()
            checks[name] = "ok"
        except Exception as exc:  # any failure means not ready; say which and why
            checks[name] = f"{type(exc).__name__}: {exc}"[:300]
    if all(v == "ok" for v in checks.values()):
        return jsonify({"status": "ready", "checks": checks})
    failed = [name for name, v in checks.items() if v != "ok"]
    return error_response(503, "not_ready", f"not ready: {', '.join(failed)} unavailable", checks)
