"""Each job's live events, in Redis: a stream to read back from any point, and a channel that pushes them.

One script appends an event to the job's stream (which keeps the last STREAM_MAXLEN and expires a
while after the job's last event) and publishes it, with its stream id, on the job's channel. A
client that reconnects reads what it missed from the stream, from its `Last-Event-ID`.

A sender thread per process publishes, in order, in batches of one round trip: a job never waits on
Redis for its events, and a burst (a stream of tokens, a thousand claims) costs a few round trips.
Publishing is best effort: a job never fails because Redis is away, and listeners then fall back
on the database.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from hashlib import sha1

from redis import Redis
from redis.exceptions import NoScriptError, RedisError

from services.jobs.after_commit import LiveEvent

log = logging.getLogger(__name__)

STREAM_MAXLEN = 100_000  # a safety net; a stream expires long before
BATCH = 500  # events per round trip at most
LINGER_SECONDS = 0.01  # how long a batch waits for more, unless it holds a job's end
SEND_WAIT_SECONDS = 2.0  # a publisher that waits never waits longer than this on Redis
FINAL_EVENTS = frozenset({"succeeded", "failed", "cancelled"})

# KEYS: each event's stream and channel, in pairs; ARGV: maxlen, ttl, then each event's name and data.
_APPEND_AND_PUBLISH = """
local maxlen, ttl = ARGV[1], ARGV[2]
for i = 1, #KEYS / 2 do
    local stream, channel, event, data = KEYS[2 * i - 1], KEYS[2 * i], ARGV[2 * i + 1], ARGV[2 * i + 2]
    local id = redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'event', event, 'data', data)
    redis.call('EXPIRE', stream, ttl)
    redis.call('PUBLISH', channel, id .. ' ' .. event .. ' ' .. data)
end
return #KEYS / 2
"""


@dataclass(frozen=True)
class Event:
    id: str  # the stream id, "<ms>-<seq>": ordered, and what SSE sends as the event's id
    event: str
    data: dict

    @property
    def final(self) -> bool:
        return self.event in FINAL_EVENTS


def _urgent(item) -> bool:
    events, sent = item
    return sent is not None or any(e.event in FINAL_EVENTS for e in events)


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
        self._sha = sha1(_APPEND_AND_PUBLISH.encode()).hexdigest()
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._pid = None

    def publish(self, events: list[LiveEvent], *, wait: bool = False) -> None:
        """Publish these events after those this process published before, in the background; `wait`:
        return once they are out (or failed), so that what the caller does next comes after them."""
        if not events:
            return
        if self._pid != os.getpid():  # one sender per process: a forked child starts its own
            self._pid = os.getpid()
            self._outbox = queue.SimpleQueue()
            threading.Thread(target=self._send_forever, name="conveyor-job-events", daemon=True).start()
        sent = threading.Event() if wait else None
        self._outbox.put((events, sent))
        if sent is not None:
            sent.wait(SEND_WAIT_SECONDS)

    def _send_forever(self) -> None:
        """Batch what comes within LINGER_SECONDS of the first event, unless something must go at once: a
        job's end (someone may be waiting for it) or a publisher waiting. A short job's `running` and
        its end then share one round trip."""
        outbox = self._outbox
        while True:
            batch = [outbox.get()]
            deadline = time.monotonic() + LINGER_SECONDS
            while len(batch) < BATCH and not _urgent(batch[-1]):
                try:
                    batch.append(outbox.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            self._send([e for events, _ in batch for e in events])
            for _, sent in batch:
                if sent is not None:
                    sent.set()

    def _send(self, events: list[LiveEvent]) -> None:
        """All the events in one EVALSHA: one command, no pipeline to build (a redis-py Script would
        also ask SCRIPT EXISTS first, a round trip more)."""
        keys, args = [], [STREAM_MAXLEN, self.ttl_seconds]
        for e in events:
            keys += [stream_key(e.job_id), channel(e.job_id)]
            args += [e.event, json.dumps(e.data, default=str)]
        try:
            try:
                self.redis.evalsha(self._sha, len(keys), *keys, *args)
            except NoScriptError:  # a new or flushed Redis: load the script, then send again
                self.redis.script_load(_APPEND_AND_PUBLISH)
                self.redis.evalsha(self._sha, len(keys), *keys, *args)
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
