"""Maintenance mode: while the flag is on, writes answer 503 `maintenance` with the admins' message and
Retry-After; reads keep working, admins are exempt, and so are login (so that admins can sign in)
and the payments webhook (a payment the provider gave up on would be lost; it only records a system
job, and the workers keep running).

Each web process caches the flags for FEATURE_FLAG_CACHE_SECONDS, and drops its copy at once when a
change is published on Redis (`conveyor:flags`); with Redis away, the cache time bounds staleness.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from flask import Flask, current_app, request
from redis.exceptions import RedisError

from models import Role
from services import flags
from services.auth import AuthError
from services.flags import FlagState
from web.auth import principal_of_bearer
from web.errors import error_response
from worker.runtime import Runtime

log = logging.getLogger(__name__)

CACHE_KEY = "conveyor_flags"
CHANNEL = "conveyor:flags"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Signing in and out stays possible (admins must get in; a user must be able to end a session).
OPEN_DURING_MAINTENANCE = frozenset({"auth.Login", "auth.OidcSignIn", "auth.Refresh", "auth.Logout",
                                     "auth.LogoutEverywhere", "payments.Payments"})
DEFAULT_MESSAGE = "the API is in maintenance; reads work, writes are refused for now"


class FlagCache:
    """One process's copy of the flags: fresh for `ttl` seconds, dropped when Redis says they changed."""

    def __init__(self, runtime: Runtime, ttl: float):
        self._runtime = runtime
        self._ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, FlagState]] = {}
        # Bumped by each invalidation: a read that began before one must not store what it read.
        self._generation = 0
        self._listener_pid: int | None = None

    def get(self, name: str) -> FlagState:
        self._ensure_listener()
        entry = self._entries.get(name)
        if entry is not None and time.monotonic() - entry[0] < self._ttl:
            return entry[1]
        generation, read_at = self._generation, time.monotonic()
        with self._runtime.db.read() as session:
            state = flags.get_flag(session, name)
        with self._lock:
            if generation == self._generation:
                self._entries[name] = (read_at, state)
        return state

    def changed(self, name: str) -> None:
        """After a commit that changed `name`: forget it here, and tell every other process."""
        self._invalidate()
        try:
            self._runtime.redis.publish(CHANNEL, name)
        except RedisError:
            log.warning("could not publish a flag change; other processes see it within %ss", self._ttl,
                        exc_info=True)

    def _invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def _ensure_listener(self) -> None:
        # One per process: a forked child starts its own (the parent's thread does not exist there).
        if self._listener_pid == os.getpid():
            return
        with self._lock:
            if self._listener_pid == os.getpid():
                return
            self._listener_pid = os.getpid()
        threading.Thread(target=self._listen, name="conveyor-flags", daemon=True).start()

    def _listen(self) -> None:
        pubsub, connected = self._runtime.redis.pubsub(), True
        while True:
            try:
                if not pubsub.subscribed:
                    pubsub.subscribe(CHANNEL)
                message = pubsub.get_message(timeout=1.0)
                connected = True
            except (RedisError, OSError):
                if connected:  # once per outage, not once a second
                    log.warning("lost the flag changes connection; reconnecting", exc_info=True)
                connected = False
                time.sleep(1.0)
                continue
            # A change, or a (re)subscription after which changes may have been missed.
            if message is not None and message["type"] in ("message", "subscribe"):
                self._invalidate()


def flag_cache() -> FlagCache:
    return current_app.extensions[CACHE_KEY]


def _is_admin() -> bool:
    """An admin as of now (the token checked against the user's current state), not as the token says."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    try:
        return principal_of_bearer(token.strip()).role == Role.admin
    except AuthError:
        return False


def _refuse_writes_in_maintenance():
    if request.method not in WRITES or request.endpoint is None or request.endpoint in OPEN_DURING_MAINTENANCE:
        return None
    state = flag_cache().get(flags.MAINTENANCE_MODE)
    if not state.enabled or _is_admin():
        return None
    retry_after = current_app.extensions["conveyor"].settings.maintenance_retry_after_seconds
    return error_response(503, "maintenance", state.message or DEFAULT_MESSAGE, {"retry_after": retry_after},
                          headers={"Retry-After": str(retry_after)})


def init_maintenance(app: Flask) -> None:
    runtime = app.extensions["conveyor"]
    app.extensions[CACHE_KEY] = FlagCache(runtime, runtime.settings.feature_flag_cache_seconds)
    app.before_request(_refuse_writes_in_maintenance)
