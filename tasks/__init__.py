"""Celery tasks, one module per job family; the worker imports this package (Celery's `include`)."""

from tasks import beat, billing, ping, reports, sales, subscriptions  # noqa: F401
