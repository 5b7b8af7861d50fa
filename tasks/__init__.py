"""Celery tasks, one module per job family; importing this package registers them all."""

from tasks import billing, maintenance, ping  # noqa: F401
