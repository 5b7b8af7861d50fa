"""LLM jobs (queue `llm`, the I/O-bound gevent line): a chat message's answer, a gateway completion; and
beat's sweep of holds their jobs left open.

Each call: moderation, the user's tier limits, a credit hold for the worst case (committed before the
provider is called), the call streaming `token` events, then the capture of the real usage with the
call's record (and the assistant's message) in the job's final transaction. The hold's key is the
job's, so a redelivered job finds its hold and is never charged twice; any failure voids it, a cancel
captures what was used.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from redis.exceptions import RedisError
from sqlalchemy import select

from models import HoldState, LedgerOperation
from services import billing
from services.errors import Conflict, DomainError
from services.jobs import LeaseLost
from services.llm import chat as chat_service
from services.llm import moderation, pricing
from services.llm.context import fit
from services.llm.providers import Offer, catalogue
from services.llm.settlement import HOLD_KEY, Usage, orphaned_holds, record_flag, settle
from services.subscriptions.terms import terms_for
from tasks.base import TRANSIENT, job_task
from tasks.context import JobCancelled, JobContext, TimeLimitExceeded
from worker.celery_app import AppContextTask
from worker.llm.client import Draft, client_for
from worker.runtime import get_runtime

log = logging.getLogger(__name__)
SOFT_LIMIT, HARD_LIMIT = 300, 330
# After these the job may run again (a retry, another worker): its hold stays open for that attempt.
RUNS_AGAIN = (*TRANSIENT, TimeLimitExceeded, SoftTimeLimitExceeded, LeaseLost)


@dataclass(frozen=True)
class Call:
    model: str
    chain: tuple[Offer, ...]
    messages: list[dict]
    max_tokens: int
    temperature: float | None
    chat_session_id: int | None = None
    user_message_id: int | None = None


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429


@job_task("llm.chat", soft_time_limit=SOFT_LIMIT, time_limit=HARD_LIMIT)
def chat(job: JobContext, payload: dict) -> dict:
    """Answer a user's chat message (written with this job) in the context of its session."""
    with job.read() as session:
        chat_session, message, earlier, character = chat_service.history(session, job.job_id)
        chain = catalogue(job.runtime.settings).chain(chat_session.model)
        system = {"role": "system", "content": character.system_prompt} if character else None
        temperature = float(character.temperature) if character else None
        messages = fit(system, [{"role": m.role.value, "content": m.content} for m in earlier],
                       {"role": "user", "content": message.content},
                       window=min(o.context_window for o in chain), max_tokens=payload["max_tokens"])
    return run(job, Call(chat_session.model, chain, messages, payload["max_tokens"], temperature,
                         chat_session.id, message.id))


@job_task("llm.completion", soft_time_limit=SOFT_LIMIT, time_limit=HARD_LIMIT)
def completion(job: JobContext, payload: dict) -> dict:
    """A gateway call: the client's messages as they are."""
    chain = catalogue(job.runtime.settings).chain(payload["model"])
    return run(job, Call(payload["model"], chain, payload["messages"], payload["max_tokens"], payload.get("temperature")))


def run(job: JobContext, call: Call) -> dict:
    user_id = job.owner_id
    moderate(job, call)
    terms = tier_terms(job, user_id)
    prompt = pricing.prompt_tokens(call.messages)
    limits = client_for(job.runtime).limits
    scope = f"user:{user_id}"
    try:
        refusal = limits.acquire(scope, rpm=terms.requests_per_minute, tpm=terms.tokens_per_minute,
                                 concurrent=terms.concurrent_jobs, tokens=prompt + call.max_tokens,
                                 member=str(job.job_id), slot_seconds=HARD_LIMIT)
    except RedisError:
        log.warning("rate limits unavailable; the call goes ahead", exc_info=True)
        refusal = None
    if refusal is not None:
        raise RateLimited(f"your tier's {refusal.limit.replace('_', ' ')} limit is reached",
                          details={"limit": refusal.limit, "retry_after": refusal.retry_after})
    try:
        held = hold(job, user_id, pricing.worst_case(call.chain, prompt, call.max_tokens, terms.price_multiplier))
        draft = Draft()
        try:
            usage = client_for(job.runtime).stream(
                call.chain, call.messages, max_tokens=call.max_tokens, temperature=call.temperature,
                on_token=lambda text: (job.emit("token", {"text": text}), job.raise_if_stopped()),
                sleep=job.sleep, draft=draft)
        except JobCancelled:
            if job.stop_reason != "lease_lost":
                settle_cancelled(job, call, held, draft, prompt, terms.price_multiplier)
            raise
        return settle(job.session, job_id=job.job_id, user_id=user_id, hold=held, model=call.model, usage=usage,
                      multiplier=terms.price_multiplier, chat_session_id=call.chat_session_id)
    except BaseException as exc:
        # The attempt that runs next (a retry, or whoever took the lease over) uses the hold as it is.
        if not isinstance(exc, RUNS_AGAIN) and job.stop_reason != "lease_lost":
            void(job)
        raise
    finally:
        try:
            limits.release(scope, str(job.job_id))
        except RedisError:
            pass  # the slot lapses by itself


_terms: dict[int, tuple[float, object]] = {}
TERMS_SECONDS = 5.0  # a tier change reaches the calls of a worker process within this


def tier_terms(job: JobContext, user_id: int):
    """The user's tier terms, read at most every TERMS_SECONDS per process (one query less per call)."""
    cached = _terms.get(user_id)
    if cached is None or cached[0] < time.monotonic():
        with job.read() as session:
            cached = _terms[user_id] = (time.monotonic() + TERMS_SECONDS, terms_for(session, user_id))
    return cached[1]


def moderate(job: JobContext, call: Call) -> None:
    """Flagged content fails the job with `content_flagged`, before anything is held; kept for review."""
    settings = job.runtime.settings
    text = call.messages[-1]["content"] if call.user_message_id else "\n".join(
        m.get("content") or "" for m in call.messages if m.get("role") == "user")
    reasons = moderation.reasons(text, settings.llm_moderation_words, settings.llm_moderation_patterns)
    if not reasons and settings.llm_moderation_provider:
        provider = catalogue(settings).providers[settings.llm_moderation_provider]
        reasons = client_for(job.runtime).moderate(provider, text)
    if reasons:
        with job.step({"flagged": True}) as session:
            record_flag(session, job_id=job.job_id, user_id=job.owner_id, content=text, reasons=reasons,
                        message_id=call.user_message_id)
        raise DomainError("the message was flagged by moderation", code="content_flagged", status=400,
                          details={"reasons": reasons})


def hold(job: JobContext, user_id: int, amount: int) -> dict:
    """The job's one hold, made (or found, on a later attempt) in a fenced step."""
    with job.step({"held": True}) as session:
        try:
            held = billing.hold(session, user_id, amount, key=HOLD_KEY.format(job_id=job.job_id),
                                reference=f"llm call {job.job_id}", job_id=job.job_id)
        except billing.InsufficientFunds as exc:
            raise DomainError("not enough credits for this call's worst case", code="insufficient_credits",
                              status=402, details={"needed": amount}) from exc
        if session.get_one(LedgerOperation, uuid.UUID(held["hold_id"])).state != HoldState.open:
            raise DomainError("this call's credit hold was released", code="hold_released")
    return held


def void(job: JobContext) -> None:
    """Release the job's hold if it made one (and it is still open)."""
    try:
        with job.db.Session.begin() as session:
            operation = session.scalar(select(LedgerOperation).where(
                LedgerOperation.idempotency_key == HOLD_KEY.format(job_id=job.job_id)))
            if operation is not None and operation.state == HoldState.open:
                billing.void(session, operation.id)
    except (Conflict, *TRANSIENT):
        log.warning("could not void the call's hold; beat will", exc_info=True)


def settle_cancelled(job: JobContext, call: Call, held: dict, draft: Draft, prompt: int, multiplier) -> None:
    """A cancel mid-stream pays for what streamed (estimated: the provider never sent its usage); before
    any token, nothing."""
    if not draft.parts:
        void(job)
        return
    usage = Usage(draft.offer, draft.content, prompt, pricing.text_tokens(draft.content), 0, "cancelled")
    with job.db.Session.begin() as session:
        settle(session, job_id=job.job_id, user_id=job.owner_id, hold=held, model=call.model, usage=usage,
               multiplier=multiplier, chat_session_id=call.chat_session_id, cancelled=True)


@shared_task(name="conveyor.beat.void_llm_holds", base=AppContextTask)
def void_llm_holds() -> int:
    """Void the open holds of LLM jobs that have ended (a crash between a job's end and its void)."""
    db, voided = get_runtime().db, 0
    with db.read() as session:
        due = orphaned_holds(session)
    for hold_id in due:
        try:
            with db.Session.begin() as session:
                billing.void(session, hold_id)
            voided += 1
        except DomainError:  # resolved meanwhile
            pass
    return voided
