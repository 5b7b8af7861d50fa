"""Waiting on jobs without polling: one Redis pub/sub connection per process, shared by all its waiters.

A client that waits (`Prefer: wait`) or streams (`/stream`) registers a Watch on a job; the first
Watch of a job subscribes to the job's channel, and one listener thread reads every channel and
hands each event to the watches of its job. Under gevent the thread is a greenlet and a waiting
client holds no OS thread. After a reconnection (or on a new subscription) the watches are told to
resync: they read what they may have missed from the job's stream and the database.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from redis import Redis
from redis.exceptions import RedisError

from worker.job_events import Event, channel, parse_message

log = logging.getLogger(__name__)

RESYNC = object()  # what a Watch gets instead of an event when it may have missed some
SUBSCRIBE_TIMEOUT = 2.0
IDLE_CHANNEL_SECONDS = 10.0  # an unwatched channel stays subscribed this long, for the next watcher


class Watch:
    """One waiter's view of a job's events. `degraded`: no live push (Redis away), poll the database."""

    def __init__(self, job_id: uuid.UUID):
        self.job_id = job_id
        self.degraded = False
        self._items: queue.SimpleQueue = queue.SimpleQueue()

    def next(self, timeout: float) -> Event | object | None:
        """The next event, RESYNC, or None when `timeout` passes first."""
        try:
            return self._items.get(timeout=max(timeout, 0))
        except queue.Empty:
            return None

    def put(self, item) -> None:
        self._items.put(item)


@dataclass
class _Channel:
    watches: set = field(default_factory=set)
    confirmed: threading.Event = field(default_factory=threading.Event)
    idle_since: float | None = None


class Subscriptions:
    def __init__(self, redis: Redis):
        self._redis = redis
        self._lock = threading.Lock()
        self._channels: dict[str, _Channel] = {}
        self._pubsub = None
        self._pid = None

    @contextmanager
    def watch(self, job_id: uuid.UUID) -> Iterator[Watch]:
        """Watch a job's events for the length of the block; subscribed (and confirmed) on entry."""
        w = Watch(job_id)
        name = channel(job_id)
        try:
            with self._lock:
                self._ensure_listener()
                state = self._channels.get(name)
                if state is None:
                    state = self._channels[name] = _Channel()
                    # Sent under the lock, so that it cannot overtake an unsubscribe of the same channel.
                    self._pubsub.subscribe(name)
                state.watches.add(w)
                state.idle_since = None
            w.degraded = not state.confirmed.wait(SUBSCRIBE_TIMEOUT)
        except RedisError:
            log.warning("live job events unavailable; waiting by polling", exc_info=True)
            w.degraded = True
        try:
            yield w
        finally:
            with self._lock:
                state = self._channels.get(name)
                if state is not None:
                    state.watches.discard(w)
                    if not state.watches:
                        state.idle_since = time.monotonic()

    def _ensure_listener(self) -> None:
        # One per process: a forked child starts its own (the parent's thread does not exist there).
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._channels.clear()
        self._pubsub = self._redis.pubsub()
        threading.Thread(target=self._listen, args=(self._pubsub,), name="conveyor-subscriptions",
                         daemon=True).start()

    def _listen(self, pubsub) -> None:
        while True:
            try:
                message = pubsub.get_message(timeout=1.0)
            except (RedisError, OSError):
                log.warning("lost the job events connection; reconnecting", exc_info=True)
                self._tell_all(RESYNC, degraded=True)
                time.sleep(1.0)
                continue
            if message is None:
                self._drop_idle(pubsub)
            else:
                self._dispatch(message)

    def _dispatch(self, message: dict) -> None:
        with self._lock:
            state = self._channels.get(message["channel"])
            if state is None:
                return
            watches = list(state.watches)
            if message["type"] == "subscribe":
                if not state.confirmed.is_set():  # the first subscription: its watches start from here
                    state.confirmed.set()
                    return
                item = RESYNC  # a resubscription after a reconnect: events may have been missed
            elif message["type"] == "message":
                item = parse_message(message["data"])
            else:
                return
        for w in watches:
            if item is RESYNC:
                w.degraded = False
            w.put(item)

    def _tell_all(self, item, degraded: bool) -> None:
        with self._lock:
            watches = [w for state in self._channels.values() for w in state.watches]
        for w in watches:
            w.degraded = degraded
            w.put(item)

    def _drop_idle(self, pubsub) -> None:
        now = time.monotonic()
        with self._lock:
            idle = [name for name, state in self._channels.items()
                    if state.idle_since is not None and now - state.idle_since > IDLE_CHANNEL_SECONDS]
            for name in idle:
                del self._channels[name]
            if idle:
                try:
                    pubsub.unsubscribe(*idle)
                except RedisError:
                    log.warning("could not unsubscribe idle job channels", exc_info=True)
