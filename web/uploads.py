"""File uploads: the only requests that may be larger than MAX_REQUEST_BYTES, and not JSON.

An upload endpoint names its own limit here; its body is `multipart/form-data` with a Content-Length
(a chunked body could only be measured by reading it whole), which werkzeug spools to a temporary
file, never to memory, on its way to storage.
"""

from __future__ import annotations

from typing import Callable

from flask import Request

from config import Settings
from web.errors import error_response

FORM_MEMORY_BYTES = 1024 * 1024  # the text fields, and what werkzeug buffers while it looks for a boundary
UPLOAD_LIMITS: dict[str, Callable[[Settings], int]] = {
    "imports.Imports": lambda settings: settings.import_max_bytes,
}


def is_upload(request: Request) -> bool:
    return request.method == "POST" and request.endpoint in UPLOAD_LIMITS


def check_upload(request: Request, settings: Settings):
    """An error response when the upload cannot be taken; else None, with the request's limit raised."""
    limit = UPLOAD_LIMITS[request.endpoint](settings)
    if request.mimetype != "multipart/form-data":
        return error_response(415, "unsupported_media_type", "send the file as multipart/form-data")
    if request.content_length is None:
        return error_response(411, "length_required", "an upload needs a Content-Length header")
    if request.content_length > limit:
        return error_response(413, "payload_too_large", f"the file is larger than the {limit} bytes an import takes",
                              {"limit_bytes": limit, "content_length": request.content_length})
    request.max_content_length = limit
    request.max_form_memory_size = FORM_MEMORY_BYTES
    return None
