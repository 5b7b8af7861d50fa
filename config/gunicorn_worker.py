"""gunicorn's gevent worker, answering what gunicorn refuses itself (a request line or headers too large,
a request it cannot parse) in the API's JSON error envelope instead of its HTML page.

Here, not in `web`: gunicorn's master loads the worker class before it forks, and importing the app's
modules then would import them before the worker's gevent monkey-patching.
"""

from __future__ import annotations

import json

from gunicorn.workers.ggevent import GeventWorker

ERRORS = {
    400: ("bad_request", "the request could not be parsed"),
    403: ("forbidden", "the request is forbidden"),
    414: ("uri_too_long", "the request line is too long"),
    417: ("expectation_failed", "the expectation cannot be met"),
    431: ("headers_too_large", "the request headers are too large or too many"),
    500: ("internal_error", "something went wrong on our side"),
    501: ("not_implemented", "the transfer coding is not supported"),
}


class JsonErrorWorker(GeventWorker):
    def handle_error(self, req, client, addr, exc):
        # gunicorn still decides the status, logs and writes the access log; only its page is replaced.
        super().handle_error(req, _EnvelopeSocket(client), addr, exc)


class _EnvelopeSocket:
    """The client's socket while gunicorn answers an error: the page it sends goes out as our envelope."""

    def __init__(self, sock):
        self._sock = sock

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def sendall(self, data: bytes) -> None:
        self._sock.sendall(envelope(data))


def envelope(answer: bytes) -> bytes:
    """gunicorn's whole error answer (`HTTP/1.1 414 URI Too Long`, headers, an HTML page) as ours."""
    _, status, reason = answer.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
    code, message = ERRORS.get(int(status), ("http_error", reason.lower()))
    body = json.dumps({"error": {"code": code, "message": message, "details": {}}}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body
