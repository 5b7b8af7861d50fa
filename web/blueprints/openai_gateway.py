"""/api/v1/openai: an OpenAI-compatible gateway (chat completions, models), so OpenAI's SDKs work as they are.

Each completion is an `llm.completion` job of the caller (listed in /api/v1/jobs), billed and limited
as chat messages are; the view waits for it, or relays its `token` events as OpenAI's stream chunks.
Errors are OpenAI's `{"error": {"message", "type", "code"}}` with its statuses (401, 402, 404, 429 ...).
"""

from __future__ import annotations

import json
import logging
import uuid
from contextlib import ExitStack
from itertools import chain
from typing import Iterator

from flask import Response, request
from flask.views import MethodView
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from models import Job, JobStatus
from schemas.common import ErrorEnvelopeSchema
from schemas.llm import (OpenAIChatRequestSchema, OpenAICompletionSchema, OpenAIErrorSchema,
                         OpenAIModelListSchema)
from services import jobs as job_service
from services.errors import DomainError
from services.llm.providers import catalogue
from web import openai_shapes as shapes
from web.auth import current_principal, require_auth
from web.parsing import Blueprint
from web.submit import wait_for
from worker.job_events import id_order
from worker.runtime import get_runtime, get_settings
from worker.submission import enqueue
from worker.subscriptions import RESYNC

log = logging.getLogger(__name__)
blp = Blueprint("openai", __name__, url_prefix="/api/v1/openai", description="OpenAI-compatible gateway")
WAIT_SECONDS = 330  # the llm jobs' hard time limit
_REQUEST = OpenAIChatRequestSchema()


def ERRORS(fn):
    """The gateway's error statuses, each in OpenAI's error shape."""
    for status, description in ((400, "invalid request, content_flagged, context_too_long"),
                                (401, "bad or missing credentials"), (402, "insufficient_credits"),
                                (404, "unknown model"), (429, "a tier limit; see Retry-After"),
                                (502, "the providers failed"), (504, "the providers or the call timed out")):
        fn = blp.alt_response(status, schema=OpenAIErrorSchema, description=description)(fn)
    for status, description in ((413, "body too large"), (415, "not JSON")):  # refused before the view
        fn = blp.alt_response(status, schema=ErrorEnvelopeSchema, description=description)(fn)
    return fn


@blp.route("/models")
class Models(MethodView):
    @require_auth()
    @blp.response(200, OpenAIModelListSchema)
    @blp.alt_response(401, schema=OpenAIErrorSchema, description="Bad or missing credentials")
    def get(self):
        """The models this gateway serves, in OpenAI's list shape."""
        models = sorted(catalogue(get_settings()).models)
        return {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "conveyor"}
                                           for m in models]}


@blp.route("/chat/completions")
class ChatCompletions(MethodView):
    @require_auth()
    @blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": OpenAIChatRequestSchema}}})
    @blp.response(200, OpenAICompletionSchema)
    @ERRORS
    def post(self):
        """OpenAI's chat completions: `stream: true` answers Server-Sent Events chunks ending in `[DONE]`."""
        try:
            body = _REQUEST.load(request.get_json(silent=True) or {})
        except ValidationError as exc:
            return shapes.error(400, "invalid_request", f"invalid request: {exc.messages}")
        catalogue(get_settings()).chain(body["model"])
        max_tokens = body["max_completion_tokens"] or body["max_tokens"] or get_settings().llm_default_max_tokens
        payload = {"model": body["model"], "max_tokens": max_tokens, "temperature": body["temperature"],
                   "messages": [{"role": m["role"], "content": m["content"]} for m in body["messages"]]}
        runtime, principal, job_id = get_runtime(), current_principal(), uuid.uuid4()
        if not body["stream"]:
            with runtime.subscriptions.watch(job_id) as watch:  # before the job can send anything
                _submit(runtime, principal, job_id, payload)
                job = wait_for(job_id, WAIT_SECONDS, watch, look_first=False)
            return shapes.completion(job) if job.status == JobStatus.succeeded else _unfinished(job)
        stack = ExitStack()  # the watch outlives this view: the stream closes it
        watch = stack.enter_context(runtime.subscriptions.watch(job_id))
        try:
            created = int(_submit(runtime, principal, job_id, payload).created_at.timestamp())
        except BaseException:
            stack.close()
            raise
        events = _events(runtime, job_id, watch, stack, principal)
        first = next(events)
        if isinstance(first, Job) and first.status != JobStatus.succeeded:
            return _unfinished(first)
        include_usage = bool((body["stream_options"] or {}).get("include_usage"))
        return Response(_chunks(chain([first], events), job_id, created, body["model"], include_usage),
                        mimetype="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _submit(runtime, principal, job_id: uuid.UUID, payload: dict) -> Job:
    with runtime.db.Session.begin() as session:
        job, _ = enqueue(session, "llm.completion", payload, owner_id=principal.user_id,
                         idempotency_key=f"openai {job_id}", job_id=job_id)
    return job


def _unfinished(job: Job):
    if not job.status.finished:
        return shapes.error(504, "timeout", "the call did not finish in time", "api_error")
    return shapes.job_error(job)


def _events(runtime, job_id: uuid.UUID, watch, stack: ExitStack, principal) -> Iterator[str | Job]:
    """The job's tokens as they come, then the finished job. A client that leaves early cancels the call."""
    last, ended = "0-0", False
    try:
        while True:
            item = watch.next(1.0 if watch.degraded else runtime.settings.stream_keepalive_seconds)
            items = [item]
            if item is None or item is RESYNC:
                items = runtime.events.after(job_id, last)
                if items is None or item is None:  # events lost, or quiet: the database has the last word
                    with runtime.db.read() as session:
                        job = session.get(Job, job_id)
                    if job.status.finished:
                        ended = True
                        yield job
                        return
                    items = items or []
            for event in items:
                if id_order(event.id) <= id_order(last):
                    continue
                last = event.id
                if event.event == "token":
                    yield event.data["text"]
                elif event.final:
                    with runtime.db.read() as session:
                        job = session.get(Job, job_id)
                    ended = True
                    yield job
                    return
    finally:
        stack.close()
        if not ended:
            _cancel(runtime, job_id, principal)


def _cancel(runtime, job_id: uuid.UUID, principal) -> None:
    try:
        with runtime.db.Session.begin() as session:
            job_service.cancel(session, job_id, principal)
    except DomainError:
        pass  # finished meanwhile


def _chunks(events: Iterator, job_id, created: int, model: str, include_usage: bool) -> Iterator[str]:
    yield shapes.chunk(job_id, created, model, {"role": "assistant", "content": ""})
    sent = []
    for piece in events:
        if isinstance(piece, Job):
            yield from _ending(piece, "".join(sent), job_id, created, model, include_usage)
            return
        sent.append(piece)
        yield shapes.chunk(job_id, created, model, {"content": piece})


def _ending(job: Job, sent: str, job_id, created: int, model: str, include_usage: bool) -> Iterator[str]:
    if job.status != JobStatus.succeeded:
        failure = job.error or {"code": "cancelled", "message": "the call was cancelled"}
        body = {"error": {"message": failure["message"], "type": "api_error", "code": failure["code"]}}
        yield f"data: {json.dumps(body)}\n\n"
        return
    result = job.result
    if result["content"].startswith(sent) and len(result["content"]) > len(sent):  # tokens whose events were lost
        yield shapes.chunk(job_id, created, model, {"content": result["content"][len(sent):]})
    yield shapes.chunk(job_id, created, model, {}, result["finish_reason"] or "stop")
    if include_usage:
        yield shapes.chunk(job_id, created, model, None, usage=result["usage"])
    yield "data: [DONE]\n\n"


def _domain_error(exc: DomainError):
    status, _ = shapes.STATUSES.get(exc.code, (exc.status, None))
    return shapes.error(status, exc.code, exc.message, retry_after=exc.details.get("retry_after"))


def _http_error(exc: HTTPException):
    return shapes.error(exc.code or 500, "invalid_request" if (exc.code or 500) < 500 else "internal_error",
                        exc.description or exc.name, "invalid_request_error" if (exc.code or 500) < 500 else "api_error")


def _unexpected(exc: Exception):
    log.exception("gateway error")
    return shapes.error(500, "internal_error", "something went wrong on our side", "api_error")


blp.register_error_handler(DomainError, _domain_error)
blp.register_error_handler(HTTPException, _http_error)
blp.register_error_handler(Exception, _unexpected)
