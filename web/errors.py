"""Every error is `{"error": {"code", "message", "details"}}`, whatever raised it."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from services.errors import DomainError

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5

CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "validation_error",
         429: "too_many_requests", 500: "internal_error", 503: "unavailable"}


def error_response(status: int, code: str, message: str, details: dict | None = None, headers: dict | None = None):
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    response.headers.update(headers or {})
    return response


def http_error(exc: HTTPException):
    status = exc.code or 500
    messages = (getattr(exc, "data", None) or {}).get("messages")
    if messages is not None:
        # webargs: a body that is not JSON at all is a 400; a JSON body that fails its schema a 422.
        if status == 400 and "json" in messages and messages["json"] == ["Invalid JSON body."]:
            return error_response(400, "malformed_json", "the request body is not valid JSON")
        return error_response(status, CODES.get(status, "bad_request"), "the request is not valid", messages)
    return error_response(status, CODES.get(status, "http_error"), exc.description or exc.name,
                          headers={"Allow": ", ".join(exc.valid_methods)} if getattr(exc, "valid_methods", None) else None)


def domain_error(exc: DomainError):
    return error_response(exc.status, exc.code, exc.message, exc.details)


def database_unavailable(exc: Exception):
    """The database is away (down, restarting, out of connections): nothing was written; try again."""
    log.warning("database unavailable", exc_info=exc)
    return error_response(503, "database_unavailable", "the database is unavailable; try again shortly",
                          headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def unhandled_error(exc: Exception):
    log.exception("unhandled error")
    return error_response(500, "internal_error", "something went wrong on our side")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(DomainError, domain_error)
    app.register_error_handler(HTTPException, http_error)
    for unavailable in (OperationalError, InterfaceError, PoolTimeout):
        app.register_error_handler(unavailable, database_unavailable)
    app.register_error_handler(Exception, unhandled_error)
