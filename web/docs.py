"""/api/docs: the interactive API docs, on a pinned Swagger UI served from the swagger-ui-bundle package.

Nothing comes from a CDN, and the page runs no inline script: a Content-Security-Policy that allows
only this origin keeps it that way (and keeps the page from being framed).
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, send_from_directory, url_for
from swagger_ui_bundle import swagger_ui_path

# Swagger UI sets no inline style attributes or <style> elements (React writes styles through the
# DOM, which style-src does not govern), so 'unsafe-inline' is not needed; its CSS inlines its
# icons as data: URIs, hence img-src data:.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
    "font-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
])
# The bundle's files the page uses; the bundle's own index.html (the petstore demo) is not served.
SWAGGER_UI_FILES = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "favicon-16x16.png"})

blp = Blueprint("docs", __name__, url_prefix="/api/docs", template_folder="docs_ui/templates",
                static_folder="docs_ui/static", static_url_path="/assets")


@blp.get("")
def docs_page():
    return render_template("docs.html", spec_url=url_for("api-docs.openapi_json"))


@blp.get("/static/<path:filename>")
def swagger_ui(filename: str):
    if filename not in SWAGGER_UI_FILES:
        abort(404)
    return send_from_directory(swagger_ui_path, filename, max_age=86400)


@blp.after_request
def _lock_down(response):
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
