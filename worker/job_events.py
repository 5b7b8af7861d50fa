"""Each job's live events, in Redis: a stream to read back from any point, and a channel that pushes them.

One script appends an event to the job's stream (which keeps the last STREAM_MAXLEN and expires a
while after the job's last event) and publishes it, with its stream id, on the job's channel. A
client that reconnects reads what it missed from the stream, from its `Last-Event-ID`.
Publishing is best effort: a job never fails because Redis is away, and listeners then fall back
on the database.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

from services.jobs.after_commit import LiveEvent

log = logging.getLogger(__name__)

STREAM_MAXLEN = 100_000  # a safety net; a stream expires long before
FINAL_EVENTS = frozenset({"succeeded", "failed", "cancelled"})

_APPEND_AND_PUBLISH = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'event', ARGV[2], 'data', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', KEYS[2], id .. ' ' .. ARGV[2] .. ' ' .. ARGV[3])
return id
"""


@dataclass(frozen=True)
class Event:
    id: str  # the stream id, "<ms>-<seq>": ordered, and what SSE sends as the event's id
    event: str
    data: dict

    @property
    def final(self) -> bool:
        return self.event in FINAL_EVENTS


def stream_key(job_id: uuid.UUID | str) -> str:
    return f"conveyor:job:{job_id}:events"


def channel(job_id: uuid.UUID | str) -> str:
    return f"conveyor:job:{job_id}"


def id_order(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


def parse_message(payload: str) -> Event:
    """A message from a job's channel: "<stream id> <event> <json data>"."""
    event_id, event, data = payload.split(" ", 2)
    return Event(event_id, event, json.loads(data))


class JobEventLog:
    def __init__(self, redis: Redis, ttl_seconds: int):
        self.redis = redis
        self.ttl_seconds = ttl_seconds
        self._append = redis.register_script(_APPEND_AND_PUBLISH)

    def publish(self, events: list[LiveEvent]) -> None:
        """Append and push these events, in order, in one round trip; never raises."""
        if not events:
            return
        try:
            pipe = self.redis.pipeline(transaction=False)
            for e in events:
                self._append(keys=[stream_key(e.job_id), channel(e.job_id)],
                             args=[STREAM_MAXLEN, e.event, json.dumps(e.data, default=str), self.ttl_seconds],
                             client=pipe)
            pipe.execute()
        except RedisError:
            log.warning("could not publish %d live job events", len(events), exc_info=True)

    def after(self, job_id: uuid.UUID | str, last_id: str) -> list[Event] | None:
        """The job's events after `last_id`; None when they cannot all be told (the stream expired, or
        was trimmed past `last_id`)."""
        key = stream_key(job_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.xinfo_stream(key)
        pipe.xrange(key, f"({last_id}", "+")
        try:
            info, entries = pipe.execute(raise_on_error=False)
        except RedisError:
            return None
        if isinstance(info, Exception) or isinstance(entries, Exception) or not info.get("first-entry"):
            return None
        trimmed = info["length"] >= STREAM_MAXLEN if last_id == "0-0" else (
            id_order(info["first-entry"][0]) > id_order(last_id))
        if trimmed:
            return None
        return [Event(event_id, fields["event"], json.loads(fields["data"])) for event_id, fields in entries]

    def last_id(self, job_id: uuid.UUID | str) -> str:
        """The id of the job's latest event, or "0-0" when it has none."""
        try:
            entries = self.redis.xrevrange(stream_key(job_id), "+", "-", count=1)
        except RedisError:
            return "0-0"
        return entries[0][0] if entries else "0-0"
