"""Settling a call: its real cost captured from its hold (the rest released) with the call's record and,
for a chat, the assistant's message; moderation's refusals kept; holds left by finished jobs voided."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from models import ChatMessage, HoldState, Job, LedgerOperation, LlmCall, MessageRole, ModerationFlag
from models.jobs import FINISHED
from services.billing import capture
from services.llm.pricing import cost
from services.llm.providers import Offer

log = logging.getLogger(__name__)
HOLD_KEY = "llm-hold:{job_id}"


@dataclass(frozen=True)
class Usage:
    offer: Offer
    content: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    finish_reason: str | None = "stop"


def settle(session, *, job_id: uuid.UUID, user_id: int, hold: dict, model: str, usage: Usage, multiplier: Decimal,
           chat_session_id: int | None = None, cancelled: bool = False) -> dict:
    """Capture the usage's cost (never more than was held: the estimate is deliberately high, and what a
    provider over-reports beyond it is logged, not charged past the user's hold)."""
    actual = cost(usage.offer, usage.prompt_tokens, usage.completion_tokens, multiplier)
    charged = min(actual, hold["amount"])
    if charged < actual:
        log.warning("call cost more than its hold", extra={"job_id": str(job_id), "cost": actual, "held": hold["amount"]})
    capture(session, uuid.UUID(hold["hold_id"]), charged)
    provider = usage.offer.provider.name
    session.add(LlmCall(job_id=job_id, user_id=user_id, session_id=chat_session_id, model=model, provider=provider,
                        prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                        cost_credits=charged, latency_ms=usage.latency_ms, cancelled=cancelled))
    result = {"content": usage.content, "model": model, "provider": provider, "finish_reason": usage.finish_reason,
              "usage": {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
                        "total_tokens": usage.prompt_tokens + usage.completion_tokens},
              "cost_credits": charged}
    if chat_session_id is not None:
        message = ChatMessage(session_id=chat_session_id, role=MessageRole.assistant, content=usage.content,
                              job_id=job_id, model=model, provider=provider, prompt_tokens=usage.prompt_tokens,
                              completion_tokens=usage.completion_tokens, cost_credits=charged)
        session.add(message)
        session.flush()
        result["message_id"] = message.id
    return result


def record_flag(session, *, job_id: uuid.UUID, user_id: int, content: str, reasons: list[str],
                message_id: int | None) -> None:
    """Keep flagged content for review, once per job; its chat message leaves the context of later calls."""
    if session.scalar(select(ModerationFlag.id).where(ModerationFlag.job_id == job_id)) is not None:
        return
    session.add(ModerationFlag(job_id=job_id, user_id=user_id, content=content, reasons={"reasons": reasons},
                               message_id=message_id))
    if message_id is not None:
        session.get_one(ChatMessage, message_id).flagged = True


def orphaned_holds(session, limit: int = 500) -> list[uuid.UUID]:
    """Open LLM holds whose job has ended (or is gone): a crash between a job's end and its void left them."""
    running = select(Job.id).where(Job.status.not_in(FINISHED))
    return list(session.scalars(
        select(LedgerOperation.id).where(LedgerOperation.state == HoldState.open,
                                         LedgerOperation.idempotency_key.like("llm-hold:%"),
                                         LedgerOperation.job_id.not_in(running)).limit(limit)))
