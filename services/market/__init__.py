"""The market: products users can buy, their purchases, and what the payment provider's events do to them."""
