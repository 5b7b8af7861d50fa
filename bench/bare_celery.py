"""The baseline Celery app: Conveyor's exact Celery settings, and tasks that do (almost) nothing.

`celery -A bench.bare_celery worker -Q default --without-gossip --without-mingle -c 2` runs it with the
same worker options as Conveyor's worker. The configuration dict is Conveyor's own
(`worker.settings.celery_config(config.load_settings())`): the same broker, acks_late, prefetch
multiplier 1, json, task_ignore_result, task events and sent events, queues. Only the tasks differ:

- `bench.noop`: returns at once. What a job costs above it is Conveyor's own per-job work.
- `bench.signal(key)`: LPUSHes the time to a Redis key, so a client blocked on BLPOP learns at once
  that the task ran (the round-trip baseline; one extra Redis round trip in the task).

No Flask app, no database, no logging set-up: this module imports only Celery and the settings.
"""

from __future__ import annotations

import os
import time

from celery import Celery

from config import load_settings
from worker.settings import celery_config

app = Celery("conveyor_bench_bare")
app.config_from_object(celery_config(load_settings()))

_redis = None


@app.task(name="bench.noop")
def noop(*_args, **_kwargs) -> None:
    return None


@app.task(name="bench.signal")
def signal(key: str) -> None:
    global _redis
    if _redis is None or _redis[0] != os.getpid():  # a connection per pool process, made after the fork
        import redis

        _redis = (os.getpid(), redis.Redis.from_url(app.conf.broker_url))
    _redis[1].lpush(key, repr(time.time()))
