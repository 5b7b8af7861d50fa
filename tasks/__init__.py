"""Celery tasks, one module per job family; the worker imports this package (Celery's `include`)."""

from tasks import (beat, billing, exports, imports, llm, maintenance, market, ping, reports, sales,  # noqa: F401
                   subscriptions, usage)
