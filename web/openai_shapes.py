"""OpenAI's shapes for the gateway: its error body and statuses, completions and stream chunks from a job."""

from __future__ import annotations

import json

from flask import jsonify

from models import Job

# Our error codes -> (status, OpenAI's error type).
STATUSES = {
    "unauthorized": (401, "authentication_error"), "missing_token": (401, "authentication_error"),
    "invalid_token": (401, "authentication_error"), "token_expired": (401, "authentication_error"),
    "token_revoked": (401, "authentication_error"), "forbidden": (403, "permission_error"),
    "insufficient_credits": (402, "insufficient_credits"), "unknown_model": (404, "invalid_request_error"),
    "rate_limited": (429, "rate_limit_error"), "content_flagged": (400, "invalid_request_error"),
    "context_too_long": (400, "invalid_request_error"), "invalid_request": (400, "invalid_request_error"),
    "provider_timeout": (504, "api_error"), "provider_rate_limited": (502, "api_error"),
    "provider_unavailable": (502, "api_error"), "provider_error": (502, "api_error"),
}


def error(status: int, code: str, message: str, kind: str | None = None, retry_after: int | None = None):
    response = jsonify({"error": {"message": message, "type": kind or STATUSES.get(code, (status, "api_error"))[1],
                                  "param": None, "code": code}})
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def job_error(job: Job):
    """The answer for a job that did not succeed."""
    failure = job.error or {"code": "cancelled", "message": "the call was cancelled"}
    code = failure.get("code", "internal_error")
    status, kind = STATUSES.get(code, (500, "api_error"))
    return error(status, code, failure.get("message", "the call failed"), kind,
                 (failure.get("details") or {}).get("retry_after"))


def completion(job: Job) -> dict:
    result = job.result
    return {"id": f"chatcmpl-{job.id}", "object": "chat.completion", "created": int(job.created_at.timestamp()),
            "model": result["model"], "usage": result["usage"], "provider": result["provider"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": result["content"]},
                         "finish_reason": result["finish_reason"] or "stop"}]}


def chunk(job_id, created: int, model: str, delta: dict, finish_reason: str | None = None, **extra) -> str:
    body = {"id": f"chatcmpl-{job_id}", "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}] if delta is not None else [],
            **extra}
    return f"data: {json.dumps(body, separators=(',', ':'))}\n\n"
