"""Moderation by word and pattern lists (LLM_MODERATION_WORDS, LLM_MODERATION_PATTERNS)."""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=8)
def _compiled(words: tuple[str, ...], patterns: tuple[str, ...]) -> tuple[re.Pattern, ...]:
    listed = [re.compile(rf"\b{re.escape(word)}\b", re.IGNORECASE) for word in words]
    return tuple(listed + [re.compile(pattern, re.IGNORECASE) for pattern in patterns])


def reasons(text: str, words: tuple[str, ...], patterns: tuple[str, ...]) -> list[str]:
    """What in `text` the lists refuse (the rules that matched); empty when it passes."""
    return [f"matched {rule.pattern!r}" for rule in _compiled(words, patterns) if rule.search(text)]
