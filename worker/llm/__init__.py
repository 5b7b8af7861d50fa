"""Calling LLM providers: the openai client with retries, fallback and shared cooldowns; rate limits in Redis."""
