"""The LLM services on their own: the providers' configuration, the context's fit, costs, moderation lists."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from services.errors import DomainError, NotFound
from services.llm import moderation, pricing, providers
from services.llm.context import fit

TOML = """
[[providers]]
name = "first"
base_url = "http://first.example/v1/"
api_key_env = "FIRST_KEY"
requests_per_minute = 100
[providers.models.chat]
input_price = "150"
output_price = "600"
context_window = 1000

[[providers]]
name = "second"
base_url = "http://second.example/v1"
[providers.models.chat]
upstream = "vendor/chat"
input_price = "300"
output_price = "1200"
"""


def test_a_toml_file_makes_a_fallback_chain_in_the_order_listed(tmp_path, monkeypatch):
    path = tmp_path / "providers.toml"
    path.write_text(TOML)
    catalogue = providers.load(str(path), None)
    first, second = catalogue.chain("chat")
    assert (first.provider.name, second.provider.name, second.upstream) == ("first", "second", "vendor/chat")
    assert first.provider.base_url == "http://first.example/v1" and first.provider.requests_per_minute == 100
    assert (first.input_price, second.context_window) == (Decimal("150"), 8192)
    monkeypatch.setenv("FIRST_KEY", "sk-secret")
    assert first.provider.api_key() == "sk-secret" and "sk-secret" not in repr(catalogue)
    with pytest.raises(NotFound):
        catalogue.chain("nope")


@pytest.mark.parametrize("document", [
    {"providers": [{"name": "a"}]},
    {"providers": [{"name": "a", "base_url": "http://a", "models": {"m": {"input_price": "x", "output_price": 1}}}]},
    {"providers": [{"name": "a", "base_url": "http://a", "timeout": -1}]},
    {"providers": [{"name": "a", "base_url": "http://a"}, {"name": "a", "base_url": "http://b"}]},
])
def test_a_bad_configuration_is_refused_with_what_is_wrong(document):
    with pytest.raises(providers.ConfigError):
        providers.parse(document)


def test_a_moderation_provider_that_is_not_configured_is_refused(tmp_path):
    path = tmp_path / "providers.toml"
    path.write_text(TOML)
    settings = SimpleNamespace(llm_providers_file=str(path), llm_providers=None, llm_moderation_provider="second")
    assert providers.catalogue(settings).providers["second"].name == "second"
    with pytest.raises(providers.ConfigError, match="LLM_MODERATION_PROVIDER=missing"):
        providers.catalogue(SimpleNamespace(**{**vars(settings), "llm_moderation_provider": "missing"}))


def test_the_worst_case_takes_the_dearest_provider_and_rounds_up():
    chain = providers.parse({"providers": [
        {"name": "a", "base_url": "http://a", "models": {"m": {"input_price": "1000", "output_price": "2000"}}},
        {"name": "b", "base_url": "http://b", "models": {"m": {"input_price": "500", "output_price": "4000"}}},
    ]}).chain("m")
    # a: 10 * 1000 + 100 * 2000 = 210,000 per million; b: 5,000 + 400,000 = 405,000 -> 0.405 credits, up to 1
    assert pricing.worst_case(chain, 10, 100, Decimal("1")) == 1
    assert pricing.worst_case(chain, 10, 10_000, Decimal("0.8")) == 33  # b: (5,000 + 40,000,000) * 0.8 / 1e6
    assert pricing.cost(chain[0], 0, 0, Decimal(1)) == 0


def test_the_context_keeps_the_newest_history_that_fits():
    system, new = {"role": "system", "content": "s" * 30}, {"role": "user", "content": "now"}
    history = [{"role": "user", "content": f"{n}" * 30} for n in range(10)]
    kept = fit(system, history, new, window=100, max_tokens=20)
    assert kept[0] == system and kept[-1] == new
    middle = kept[1:-1]
    assert middle == history[-len(middle):] and 0 < len(middle) < 10  # the oldest dropped first
    assert pricing.prompt_tokens(kept) <= 100 - 20
    with pytest.raises(DomainError) as refused:
        fit(system, history, {"role": "user", "content": "x" * 300}, window=100, max_tokens=20)
    assert refused.value.code == "context_too_long"


def test_moderation_matches_whole_words_and_patterns_in_any_case():
    words, patterns = ("contraband",), (r"\bkill\s+all\b",)
    assert moderation.reasons("CONTRABAND here", words, patterns)
    assert moderation.reasons("please Kill  All bugs", words, patterns)
    assert moderation.reasons("contrabandits are fine", words, patterns) == []
