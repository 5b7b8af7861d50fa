"""LLM calls: the providers' catalogue and prices, context and moderation, chat data, and settlement."""
