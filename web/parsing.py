"""Request bodies that Python's json cannot hold are malformed JSON (400), never a server error.

`json.loads` raises RecursionError on deep nesting (a 2 KB body of 1,000 `[`) and a plain ValueError
on a number of more than 4,300 digits (Python's limit on converting a str to an int): neither is the
JSONDecodeError that Flask and webargs expect of a bad body.
"""

from __future__ import annotations

import json

import flask_smorest
from flask.json.provider import DefaultJSONProvider
from webargs.flaskparser import FlaskParser


class JsonProvider(DefaultJSONProvider):
    """`request.get_json()`: too deep is a ValueError, which Flask answers (or `silent=True` ignores) as bad JSON."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("the JSON is nested too deeply") from exc


class JsonParser(FlaskParser):
    """webargs, which parses bodies itself: anything json cannot hold is its "Invalid JSON body." (400)."""

    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise  # webargs' own handling (an empty body is no body)
        except (RecursionError, ValueError) as exc:
            self._handle_invalid_json_error(exc, req)


class Blueprint(flask_smorest.Blueprint):
    """Every API blueprint: flask-smorest's, parsing its arguments with `JsonParser`."""

    ARGUMENTS_PARSER = JsonParser()


def has_body(request) -> bool:
    """A Content-Length above zero, or a chunked body (which has none)."""
    return (request.content_length or 0) > 0 or "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def streamed_past_limit(request) -> bool:
    """Whether a body without Content-Length runs past MAX_CONTENT_LENGTH: werkzeug stops reading such a
    body at the limit without a word, which would hand the view a truncated body."""
    if request.content_length is not None:
        return False  # werkzeug refuses a Content-Length over the limit itself
    body = request.get_data(cache=True)
    return len(body) >= request.max_content_length and request.environ["wsgi.input"].read(1) != b""
