"""What the broker's queues hold: their depth, and how far their consumers have got.

The outbox dispatcher needs both to tell a lost message from one still waiting in a long queue.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone

from redis import Redis
from redis.exceptions import RedisError

from worker.runtime import get_celery

log = logging.getLogger(__name__)

_RAISE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
"""
KEEP_SECONDS = 7 * 24 * 3600


def queue_depths(queues: list[str]) -> dict[str, int | None]:
    """Waiting messages per queue, by a passive declare (Redis and AMQP alike); None if unknown."""
    depths: dict[str, int | None] = {}
    try:
        with get_celery().connection_for_read() as conn:
            conn.ensure_connection(max_retries=1)
            channel = conn.default_channel
            for name in queues:
                try:
                    depths[name] = channel.queue_declare(queue=name, passive=True).message_count
                except Exception:  # AMQP closes the channel on a missing queue: open a new one
                    depths[name] = 0
                    channel = conn.channel()
    except Exception:
        log.warning("broker unreachable while reading queue depths", exc_info=True)
        return {name: None for name in queues}
    return depths


def _key(queue: str) -> str:
    return f"conveyor:queue:{queue}:claimed-through"


class ClaimedThrough:
    """In one process: per queue, the latest send time of the jobs claimed here; kept in Redis as the
    maximum over all workers. Recording costs nothing on the job's path: the heartbeat thread flushes it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._latest: dict[str, datetime] = {}

    def saw(self, queue: str, dispatched_at: datetime | None) -> None:
        if dispatched_at is None:
            return
        with self._lock:
            if queue not in self._latest or dispatched_at > self._latest[queue]:
                self._latest[queue] = dispatched_at

    def flush(self, redis: Redis) -> None:
        with self._lock:
            latest, self._latest = self._latest, {}
        if not latest:
            return
        try:
            raise_to = redis.register_script(_RAISE)
            pipe = redis.pipeline(transaction=False)
            for queue, at in latest.items():
                raise_to(keys=[_key(queue)], args=[int(at.timestamp() * 1000), KEEP_SECONDS], client=pipe)
            pipe.execute()
        except RedisError:
            log.warning("could not record how far the queues were consumed", exc_info=True)


def claimed_through(redis: Redis, queues: list[str]) -> dict[str, datetime]:
    """Per queue, the latest send time among jobs any worker has claimed (queues never seen: absent)."""
    try:
        values = redis.mget([_key(q) for q in queues])
    except RedisError:
        log.warning("could not read how far the queues were consumed", exc_info=True)
        return {}
    return {q: datetime.fromtimestamp(int(v) / 1000, timezone.utc) for q, v in zip(queues, values) if v}
