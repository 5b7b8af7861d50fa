"""A call's context: the system prompt, then as much recent history as fits the model's window, then the
new message; the oldest history goes first."""

from __future__ import annotations

from services.errors import DomainError
from services.llm.pricing import REPLY_PRIMER, message_tokens


def fit(system: dict | None, history: list[dict], new: dict, *, window: int, max_tokens: int) -> list[dict]:
    fixed = [m for m in (system, new) if m is not None]
    budget = window - max_tokens - REPLY_PRIMER - sum(message_tokens(m) for m in fixed)
    if budget < 0:
        raise DomainError("the message and max_tokens do not fit the model's context window",
                          code="context_too_long", status=400, details={"context_window": window})
    kept: list[dict] = []
    for message in reversed(history):
        budget -= message_tokens(message)
        if budget < 0:
            break
        kept.append(message)
    return ([system] if system else []) + kept[::-1] + [new]
