"""Usage analytics: rollups per user, day and model, and per tier and day, recomputed a day at a time."""
