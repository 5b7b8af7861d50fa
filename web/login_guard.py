"""Per account: after LOGIN_FAILURES_BEFORE_DELAY wrong passwords for one email, each further failure
locks that email's logins for twice as long as the one before (1 s, 2 s, 4 s ... up to
LOGIN_DELAY_MAX_SECONDS); a success forgets the failures.

Counted in Redis under an HMAC of the normalised email (the store never holds the address), for
known and unknown emails alike, so that the lock tells nothing about who has an account. A locked
login is refused before its password is hashed. Redis away: no lock (logged), like the rate limits.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from contextlib import contextmanager
from typing import Iterator

from redis.exceptions import RedisError

from services.auth import AuthError, normalise_email
from web.limits import RateLimited
from worker.runtime import get_runtime

log = logging.getLogger(__name__)

PREFIX = "conveyor:login-failures:"
FAILURES_REMEMBERED_SECONDS = 86400


@contextmanager
def login_attempt(email: str) -> Iterator[None]:
    """Refuse a locked email with 429; count the block's wrong-password AuthError, forget on success."""
    runtime = get_runtime()
    settings, redis = runtime.settings, runtime.redis
    key = PREFIX + hmac.new(settings.secret_key.encode(), normalise_email(email).encode(), hashlib.sha256).hexdigest()
    try:
        locked_for = redis.ttl(key + ":lock")
    except RedisError:
        log.warning("login failures unavailable; not limiting this login", exc_info=True)
        locked_for = 0
    if locked_for > 0:
        raise RateLimited("too many failed logins for this account; try again later", locked_for)
    try:
        yield
    except AuthError as exc:
        if exc.code == "invalid_credentials":
            _record_failure(redis, key, settings.login_failures_before_delay, settings.login_delay_max_seconds)
        raise
    else:
        try:
            redis.delete(key, key + ":lock")
        except RedisError:
            log.warning("could not forget failed logins", exc_info=True)


def _record_failure(redis, key: str, free_failures: int, max_delay: int) -> None:
    try:
        with redis.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, FAILURES_REMEMBERED_SECONDS)
            failures = pipe.execute()[0]
        if failures >= free_failures:
            delay = min(2 ** min(failures - free_failures, 32), max_delay)
            redis.set(key + ":lock", "1", ex=delay)
    except RedisError:
        log.warning("could not count a failed login", exc_info=True)
