"""The Flask app factory: `flask --app web ...` and `gunicorn 'web:create_app()'`."""

from __future__ import annotations

import re
import uuid

from flask import Flask, g, request
from flask_smorest import Api

from config import Settings
from config.logging import request_id_var
from schemas.common import ErrorEnvelopeSchema
from web.errors import error_response, register_error_handlers
from web.limits import init_limits
from web.maintenance import init_maintenance
from web.parsing import JsonProvider, has_body, streamed_past_limit
from web.uploads import check_upload, is_upload
from worker.runtime import create_runtime_app

BODY_METHODS = {"POST", "PUT", "PATCH"}
REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")  # it goes into every log line and back to the client


def create_app(settings: Settings | None = None) -> Flask:
    app = create_runtime_app(settings)
    app.json = JsonProvider(app)
    settings = app.extensions["conveyor"].settings
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        API_TITLE="Conveyor", API_VERSION="v1", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api", OPENAPI_JSON_PATH="openapi.json",  # the docs page: web/docs.py
        API_SPEC_OPTIONS={
            "security": [{"bearerAuth": []}],
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                                              "bearerFormat": "JWT or API key"}}},
        },
    )
    _register_request_hooks(app)
    init_limits(app)
    init_maintenance(app)
    _register_blueprints(app)
    register_error_handlers(app)  # after Api(), whose own handler it replaces

    from web.cli import register_commands

    register_commands(app)
    return app


class ConveyorApi(Api):
    """Documents our error envelope for every error response."""

    ERROR_SCHEMA = ErrorEnvelopeSchema


def _register_blueprints(app: Flask) -> None:
    from web import docs
    from web.blueprints import (api_keys, auth, billing_admin, branches, catalogue, chat, customers, exports, flags,
                                health, imports, invoice_pdfs, jobs, market, metrics, openai_gateway, orders, payments,
                                reports, sales, stock, subscriptions, usage, users, wallet)

    api = ConveyorApi(app)
    for blueprint in (auth.blp, api_keys.blp, users.blp, jobs.blp, wallet.blp, billing_admin.blp, flags.blp,
                      payments.blp, branches.blp, catalogue.blp, stock.blp, customers.blp, sales.blp, orders.blp,
                      invoice_pdfs.blp, reports.blp, subscriptions.blp, market.blp, usage.blp, imports.blp, exports.blp,
                      chat.blp, openai_gateway.blp):
        api.register_blueprint(blueprint)
    app.register_blueprint(health.blp)
    app.register_blueprint(metrics.blp)
    app.register_blueprint(docs.blp)


def _register_request_hooks(app: Flask) -> None:
    settings = app.extensions["conveyor"].settings

    @app.before_request
    def _tag_and_check_request():
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        g.request_id_token = request_id_var.set(g.request_id)
        if is_upload(request):
            return check_upload(request, settings)
        if request.method in BODY_METHODS and has_body(request):
            if not request.is_json:
                return error_response(415, "unsupported_media_type", "send the body as application/json")
            if streamed_past_limit(request):
                return error_response(413, "payload_too_large",
                                      f"the request body is larger than {request.max_content_length} bytes")
        return None

    @app.after_request
    def _echo_request_id(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        return response

    @app.teardown_request
    def _untag_request(_exc):
        token = g.pop("request_id_token", None)
        if token is not None:
            request_id_var.reset(token)
