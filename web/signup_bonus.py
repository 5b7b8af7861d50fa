"""The signup bonus, at most SIGNUP_BONUS_PER_IP_PER_DAY times per client address (IPv6: per /64) per
UTC day, counted in Redis. Registrations past the cap succeed without it.

Redis away: no bonus (logged). The rate limits are off then too, and a bonus is worth credits; an
admin can still grant it with an adjustment.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

from redis.exceptions import RedisError

from models.base import utcnow
from web.client_ip import client_key
from worker.runtime import get_runtime

log = logging.getLogger(__name__)

PREFIX = "conveyor:signup-bonus:"
COUNT_KEPT_SECONDS = 2 * 86400


@contextmanager
def signup_bonus() -> Iterator[bool]:
    """Whether this registration gets the bonus; a registration that fails gives its place back."""
    runtime = get_runtime()
    settings, redis = runtime.settings, runtime.redis
    key = f"{PREFIX}{utcnow():%Y-%m-%d}:{client_key()}"
    granted = False
    if settings.signup_bonus_credits > 0 and settings.signup_bonus_per_ip_per_day > 0:
        try:
            with redis.pipeline() as pipe:
                pipe.incr(key)
                pipe.expire(key, COUNT_KEPT_SECONDS)
                granted = pipe.execute()[0] <= settings.signup_bonus_per_ip_per_day
        except RedisError:
            log.warning("signup bonus counter unavailable; no bonus for this registration", exc_info=True)
    try:
        yield granted
    except BaseException:
        if granted:
            try:
                redis.decr(key)
            except RedisError:
                log.warning("could not give back a signup bonus place", exc_info=True)
        raise
