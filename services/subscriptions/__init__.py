"""Tiers, subscriptions, and the credit refresh of each period."""
