"""Token estimates and credit costs.

The estimator counts one token per 3 characters (English runs near 4 per token in OpenAI's and
Llama's tokenizers, so it overestimates on purpose: the hold covers the worst case), plus 4 tokens per
message for the chat format's framing and 3 for the reply's priming. Costs are credits, rounded up.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, Decimal

from services.llm.providers import Offer

CHARS_PER_TOKEN = 3
PER_MESSAGE = 4
REPLY_PRIMER = 3
MILLION = Decimal(1_000_000)


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def message_tokens(message: dict) -> int:
    return PER_MESSAGE + text_tokens(message.get("content") or "")


def prompt_tokens(messages: list[dict]) -> int:
    return REPLY_PRIMER + sum(message_tokens(m) for m in messages)


def cost(offer: Offer, prompt: int, completion: int, multiplier: Decimal) -> int:
    exact = (prompt * offer.input_price + completion * offer.output_price) * multiplier / MILLION
    return int(exact.to_integral_value(rounding=ROUND_CEILING))


def worst_case(chain: tuple[Offer, ...], prompt: int, max_tokens: int, multiplier: Decimal) -> int:
    """What the call can cost at most, on whichever provider of the chain answers."""
    return max(cost(offer, prompt, max_tokens, multiplier) for offer in chain)
