"""What the real web server (gunicorn) refuses itself, and bodies only a real server streams (chunked):
every refusal is our JSON envelope with the right 4xx, and nothing is written."""

from __future__ import annotations

import json
import socket

import pytest

from tests.conftest import TEST_ENV
from tests.support import WebServer, make_user
from tests.web.test_bad_input import jobs_written


@pytest.fixture(scope="module")
def server(app):
    web = WebServer(TEST_ENV, workers=1)
    yield web
    web.stop()


def exchange(server, head: str, body: bytes = b"") -> tuple[int, dict, bytes]:
    """Send a raw request (the body sent in full before reading); the status, headers and body answered."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1") + body)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
            if b"\r\n\r\n" in received:
                top, _, rest = received.partition(b"\r\n\r\n")
                headers = dict(line.split(": ", 1) for line in top.decode("latin-1").split("\r\n")[1:])
                length = int(headers.get("Content-Length", -1))
                if 0 <= length <= len(rest):
                    return int(top.split()[1]), {k.lower(): v for k, v in headers.items()}, rest[:length]
    raise AssertionError(f"no complete answer: {received[:200]!r}")


def assert_envelope(answer, status: int, code: str) -> None:
    got, headers, body = answer
    assert got == status, body
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]["code"] == code


def chunked(data: bytes, size: int = 65536) -> bytes:
    pieces = [data[i:i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def post_chunked(server, auth: dict, content_type: str, data: bytes):
    head = (f"POST /api/v1/jobs/ping HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: {content_type}\r\n"
            f"Authorization: {auth['Authorization']}\r\nTransfer-Encoding: chunked\r\n\r\n")
    return exchange(server, head, chunked(data))


def test_a_request_line_too_long_is_414(server):
    assert_envelope(exchange(server, f"GET /api/v1/jobs?{'a' * 5000} HTTP/1.1\r\nHost: test\r\n\r\n"),
                    414, "uri_too_long")


@pytest.mark.parametrize("headers", [[f"X-Big: {'a' * 9000}"], [f"X-Many-{n}: x" for n in range(120)]])
def test_headers_too_large_or_too_many_are_431(server, headers):
    head = "GET /healthz HTTP/1.1\r\nHost: test\r\n" + "".join(f"{h}\r\n" for h in headers) + "\r\n"
    assert_envelope(exchange(server, head), 431, "headers_too_large")


def test_a_request_gunicorn_cannot_parse_is_400(server):
    assert_envelope(exchange(server, "GET /healthz HTTP/1.1\r\nHost: test\r\nBad Header\r\n\r\n"),
                    400, "bad_request")


def test_a_chunked_body_that_is_not_json_is_415(app, db, server):
    _, auth = make_user(app)
    assert_envelope(post_chunked(server, auth, "text/plain", b'{"sleep_ms": 1}'), 415, "unsupported_media_type")
    assert jobs_written(db) == 0


def test_a_chunked_json_body_over_the_limit_is_413(app, db, server):
    _, auth = make_user(app)
    limit = app.extensions["conveyor"].settings.max_request_bytes
    body = b'{"sleep_ms": 1, "pad": "' + b"x" * limit + b'"}'
    assert_envelope(post_chunked(server, auth, "application/json", body), 413, "payload_too_large")
    assert jobs_written(db) == 0


def test_a_chunked_json_body_within_the_limit_is_read(app, db, server):
    _, auth = make_user(app)
    status, _, body = post_chunked(server, auth, "application/json", b'{"sleep_ms": 1}')
    assert status == 202 and json.loads(body)["payload"] == {"sleep_ms": 1, "fail_times": 0, "steps": 0}


@pytest.mark.parametrize("value", ["é" * 3, "has space", "x" * 5000])
def test_a_request_id_that_is_not_short_visible_ascii_is_replaced(server, value):
    """It goes into every log line of the request and back to the client: not 5,000 bytes of anything."""
    status, headers, _ = exchange(server, f"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Request-ID: {value}\r\n"
                                          "Connection: close\r\n\r\n")
    assert status == 200 and headers["x-request-id"] != value and len(headers["x-request-id"]) == 32


def test_a_request_id_is_echoed(server):
    _, headers, _ = exchange(server, "GET /healthz HTTP/1.1\r\nHost: test\r\nX-Request-ID: req-42\r\n"
                                     "Connection: close\r\n\r\n")
    assert headers["x-request-id"] == "req-42"
