"""How many messages wait in each broker queue (Flower does not show it; metrics and the outbox need it)."""

from __future__ import annotations

import logging

from web.runtime import get_celery

log = logging.getLogger(__name__)


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
