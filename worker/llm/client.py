"""Calls through the official `openai` client, along a model's fallback chain.

Each provider is tried up to 1 + max_retries times on 408, 409, 429, 5xx, timeouts and connection
errors, waiting its Retry-After (or an exponential backoff with jitter); a provider that keeps failing
is put in a cooldown every worker honours (Redis), and the next provider of the chain is tried. The
client's own retries are off (max_retries=0) so that the waits and the fallback are ours. Once tokens
have streamed, a broken stream is not retried: the user has seen them.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import openai
from redis import Redis
from redis.exceptions import RedisError

from services.errors import DomainError, TransientError
from services.llm.pricing import prompt_tokens, text_tokens
from services.llm.providers import Offer, Provider
from services.llm.settlement import Usage
from worker.llm.limits import RateLimits

log = logging.getLogger(__name__)
RETRYABLE = frozenset({408, 409, 429})


class ProviderFailed(DomainError):
    """No provider of the chain answered; the code says how the last one failed."""

    status = 502


@dataclass
class Draft:
    """What a call has streamed so far (for settling a cancelled call)."""

    offer: Offer | None = None
    parts: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @property
    def content(self) -> str:
        return "".join(self.parts)


@dataclass
class _Failure:
    code: str
    retry_after: float | None = None
    retryable: bool = True


def _failure(exc: Exception) -> _Failure:
    if isinstance(exc, openai.APITimeoutError):
        return _Failure("provider_timeout")
    if isinstance(exc, openai.APIConnectionError):
        return _Failure("provider_unavailable")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        code = "provider_rate_limited" if status == 429 else "provider_error"
        return _Failure(code, _retry_after(exc.response.headers), status in RETRYABLE or status >= 500)
    raise exc


def _retry_after(headers) -> float | None:
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                pass  # an HTTP date: our own backoff instead
    return None


class LlmClient:
    def __init__(self, redis: Redis, settings):
        self.redis = redis
        self.settings = settings
        self.limits = RateLimits(redis)
        self._clients: dict[tuple, openai.OpenAI] = {}
        self._lock = threading.Lock()

    def _openai(self, provider: Provider) -> openai.OpenAI:
        key = (os.getpid(), provider.name, provider.base_url)  # a forked child makes its own connections
        with self._lock:
            if key not in self._clients:
                self._clients[key] = openai.OpenAI(base_url=provider.base_url, api_key=provider.api_key(),
                                                   timeout=provider.timeout, max_retries=0)
            return self._clients[key]

    # Shared state: best effort, a Redis away must not stop the calls ------------------------------

    def _cooling(self, provider: Provider) -> bool:
        try:
            return bool(self.redis.exists(f"conveyor:llm:cooldown:{provider.name}"))
        except RedisError:
            return False

    def _cool_down(self, provider: Provider, seconds: float) -> None:
        if seconds > 0:
            try:
                self.redis.set(f"conveyor:llm:cooldown:{provider.name}", "1", px=int(seconds * 1000))
            except RedisError:
                log.warning("could not record a provider's cooldown", exc_info=True)

    def _admitted(self, provider: Provider, tokens: int) -> bool:
        try:
            return self.limits.acquire(f"provider:{provider.name}", rpm=provider.requests_per_minute,
                                       tpm=provider.tokens_per_minute, concurrent=None, tokens=tokens) is None
        except RedisError:
            return True

    # The call -------------------------------------------------------------------------------------

    def stream(self, chain: tuple[Offer, ...], messages: list[dict], *, max_tokens: int, temperature: float | None,
               on_token: Callable[[str], None], sleep: Callable[[float], None], draft: Draft) -> Usage:
        estimate = prompt_tokens(messages)
        last = _Failure("provider_unavailable")
        for offer in chain:
            provider = offer.provider
            if self._cooling(provider) or not self._admitted(provider, estimate + max_tokens):
                continue
            for attempt in range(provider.max_retries + 1):
                try:
                    return self._once(offer, messages, max_tokens, temperature, on_token, draft, estimate)
                except (openai.APIStatusError, openai.APIConnectionError) as exc:
                    if draft.parts:
                        raise ProviderFailed("the provider's stream broke off", code="provider_error") from exc
                    last = _failure(exc)
                    log.warning("provider %s failed (%s), attempt %d", provider.name, last.code, attempt + 1)
                    wait = last.retry_after if last.retry_after is not None else self._backoff(attempt)
                    if not last.retryable or attempt == provider.max_retries or \
                            wait > self.settings.llm_retry_after_max_seconds:
                        break
                    sleep(wait)
            if last.retryable:
                self._cool_down(provider, last.retry_after if last.code == "provider_rate_limited" and
                                last.retry_after else self.settings.llm_cooldown_seconds)
        raise ProviderFailed(_MESSAGES[last.code], code=last.code, status=504 if last.code == "provider_timeout" else 502)

    def moderate(self, provider: Provider, text: str) -> list[str]:
        """The provider's moderation endpoint's verdict: the categories it flagged."""
        try:
            answer = self._openai(provider).moderations.create(input=text)
        except openai.OpenAIError as exc:
            raise TransientError("the moderation service is unavailable", code="moderation_unavailable") from exc
        return [f"{provider.name}: {category}" for result in answer.results if result.flagged
                for category, hit in result.categories.model_dump().items() if hit]

    def _backoff(self, attempt: int) -> float:
        step = self.settings.llm_retry_backoff_seconds * 2 ** attempt
        return step / 2 + random.uniform(0, step / 2)

    def _once(self, offer: Offer, messages, max_tokens, temperature, on_token, draft: Draft, estimate: int) -> Usage:
        draft.offer, draft.started = offer, time.monotonic()
        options = {} if temperature is None else {"temperature": temperature}
        stream = self._openai(offer.provider).chat.completions.create(
            model=offer.upstream, messages=messages, max_tokens=max_tokens, stream=True,
            stream_options={"include_usage": True}, **options)
        usage, finish_reason = None, None
        with stream:
            for chunk in stream:
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    finish_reason = choice.finish_reason or finish_reason
                    if choice.delta and choice.delta.content:
                        draft.parts.append(choice.delta.content)
                        on_token(choice.delta.content)
        content = draft.content
        # A provider that reports no usage is billed by our estimate (which errs high).
        prompt, completion = ((usage.prompt_tokens, usage.completion_tokens) if usage is not None
                              else (estimate, text_tokens(content)))
        return Usage(offer, content, prompt, completion, int((time.monotonic() - draft.started) * 1000), finish_reason)


_MESSAGES = {"provider_timeout": "the model's providers did not answer in time",
             "provider_rate_limited": "the model's providers are rate-limiting us; try again later",
             "provider_unavailable": "the model's providers are unavailable",
             "provider_error": "the model's providers refused the call"}


_clients: dict[int, LlmClient] = {}


def client_for(runtime) -> LlmClient:
    """One client per runtime (its connection pools shared by the process's calls)."""
    if id(runtime) not in _clients:
        _clients[id(runtime)] = LlmClient(runtime.redis, runtime.settings)
    return _clients[id(runtime)]
