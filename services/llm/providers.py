"""The providers and the models they serve, from LLM_PROVIDERS_FILE (JSON or TOML) or LLM_PROVIDERS (JSON).

    {"providers": [{"name": "openai", "base_url": "https://api.openai.com/v1", "api_key_env": "OPENAI_API_KEY",
                    "timeout": 30, "max_retries": 2, "requests_per_minute": 500, "tokens_per_minute": 200000,
                    "models": {"gpt-4o-mini": {"input_price": "150", "output_price": "600",
                                               "context_window": 128000, "upstream": "gpt-4o-mini"}}}]}

Prices are credits per million tokens (decimal strings). A model served by several providers falls back
along them in the order they are listed. An API key is read from the environment variable named, at
call time; the key itself is never part of the configuration, a log line or an answer.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from services.errors import NotFound


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Provider:
    name: str
    base_url: str
    api_key_env: str | None
    timeout: float
    max_retries: int
    requests_per_minute: int | None
    tokens_per_minute: int | None

    def api_key(self) -> str:
        # The openai client insists on a key; a keyless server (the fake provider) ignores it.
        return (os.environ.get(self.api_key_env) if self.api_key_env else None) or "no-key"


@dataclass(frozen=True)
class Offer:
    """A model as one provider serves it: its name there, its prices and its context window."""

    provider: Provider
    upstream: str
    input_price: Decimal  # credits per million tokens
    output_price: Decimal
    context_window: int


@dataclass(frozen=True)
class Catalogue:
    providers: dict[str, Provider]
    models: dict[str, tuple[Offer, ...]]  # each model's fallback chain, in order

    def chain(self, model: str) -> tuple[Offer, ...]:
        offers = self.models.get(model)
        if not offers:
            raise NotFound(f"the model {model!r} does not exist", code="unknown_model")
        return offers


def _number(value, name: str, cast=int, minimum=0):
    try:
        number = cast(str(value)) if cast is Decimal else cast(value)
    except (TypeError, ValueError, InvalidOperation) as exc:
        raise ConfigError(f"{name} must be a number") from exc
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    return number


def _optional(value, name: str):
    return None if value is None else _number(value, name, minimum=1)


def parse(document: dict) -> Catalogue:
    """The catalogue a configuration document describes; ConfigError names what is wrong."""
    providers, models = {}, {}
    for index, item in enumerate(document.get("providers") or []):
        name = item.get("name")
        if not isinstance(name, str) or not name or name in providers:
            raise ConfigError(f"providers[{index}]: a unique name is required")
        if not isinstance(item.get("base_url"), str):
            raise ConfigError(f"provider {name}: base_url is required")
        provider = Provider(name, item["base_url"].rstrip("/"), item.get("api_key_env"),
                            _number(item.get("timeout", 60), f"{name}.timeout", float, 0.1),
                            _number(item.get("max_retries", 2), f"{name}.max_retries"),
                            _optional(item.get("requests_per_minute"), f"{name}.requests_per_minute"),
                            _optional(item.get("tokens_per_minute"), f"{name}.tokens_per_minute"))
        providers[name] = provider
        for model, spec in (item.get("models") or {}).items():
            where = f"{name}.models.{model}"
            models.setdefault(model, []).append(Offer(
                provider, spec.get("upstream", model), _number(spec.get("input_price"), f"{where}.input_price", Decimal),
                _number(spec.get("output_price"), f"{where}.output_price", Decimal),
                _number(spec.get("context_window", 8192), f"{where}.context_window", minimum=16)))
    return Catalogue(providers, {model: tuple(offers) for model, offers in models.items()})


@lru_cache(maxsize=4)
def load(path: str | None, inline: str | None) -> Catalogue:
    """The catalogue from the file at `path` (.toml or JSON), else from the inline JSON, else empty."""
    if path:
        with open(path, "rb") as file:
            raw = file.read()
        document = tomllib.loads(raw.decode()) if path.endswith(".toml") else json.loads(raw)
    elif inline:
        document = json.loads(inline)
    else:
        document = {}
    return parse(document)


def catalogue(settings) -> Catalogue:
    """The configured catalogue; ConfigError when it, or the moderation provider it must hold, is wrong."""
    found = load(settings.llm_providers_file, settings.llm_providers)
    if settings.llm_moderation_provider and settings.llm_moderation_provider not in found.providers:
        raise ConfigError(f"LLM_MODERATION_PROVIDER={settings.llm_moderation_provider} is not a configured provider")
    return found
