"""Rate limits (Flask-Limiter, counted in Redis, so shared by every web process): per client address on
register and login, per user on submissions. A 429 is our error envelope with `Retry-After`.

When Redis is away the limits are skipped (and the failure logged): an outage of the counters must
not become an outage of the API.
"""

from __future__ import annotations

import math
import time

from flask import Flask, current_app
from flask_limiter import Limiter, RateLimitExceeded

from services.errors import DomainError
from web.auth import current_principal
from web.client_ip import client_key
from web.errors import error_response
from worker.runtime import get_settings

STRATEGY_KEY = "conveyor_rate_limits"
REDIS_PREFIX = "conveyor:limits"  # under conveyor:, like the rest of our keys
REDIS_TIMEOUTS = {"socket_timeout": 2, "socket_connect_timeout": 1}


class RateLimited(DomainError):
    """Our own refusals (a locked account), answered like Flask-Limiter's."""

    code = "rate_limited"
    status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after


class _PerAppLimiter(Limiter):
    """Flask-Limiter's decorators are bound at import to one Limiter, which keeps one storage; the app
    factory builds apps on different settings (the tests do), so each app keeps its own storage and
    strategy, and the Limiter finds the current app's."""

    def init_app(self, app: Flask) -> None:
        super().init_app(app)
        app.extensions[STRATEGY_KEY] = self._limiter

    @property
    def limiter(self):
        return current_app.extensions[STRATEGY_KEY]

    @property
    def storage(self):
        return self.limiter.storage


# moving-window: exact (a fixed window lets a client spend two windows' worth across a boundary).
limiter = _PerAppLimiter(key_func=client_key, strategy="moving-window", swallow_errors=True,
                         headers_enabled=False)


def _user_key() -> str:
    return f"user:{current_principal().user_id}"


register_limit = limiter.limit(lambda: get_settings().register_rate_limit)
login_limit = limiter.limit(lambda: get_settings().login_rate_limit)
# One budget per user across every submitting endpoint (applied by web.blueprints.jobs.submission).
submit_limit = limiter.shared_limit(lambda: get_settings().submit_rate_limit, scope="submissions",
                                    key_func=_user_key)


def _too_many_requests(message: str, retry_after: int):
    return error_response(429, "rate_limited", message, {"retry_after": retry_after},
                          headers={"Retry-After": str(retry_after)})


def _limit_exceeded(exc: RateLimitExceeded):
    try:
        retry_after = math.ceil(limiter.current_limit.window.reset_time - time.time())
    except Exception:  # the counters went away between the refusal and now: the whole window
        retry_after = exc.limit.limit.get_expiry()
    return _too_many_requests("too many requests; slow down", max(retry_after, 1))


def _rate_limited(exc: RateLimited):
    return _too_many_requests(exc.message, exc.retry_after)


def init_limits(app: Flask) -> None:
    settings = app.extensions["conveyor"].settings
    app.config.update(RATELIMIT_STORAGE_URI=settings.redis_url,
                      RATELIMIT_STORAGE_OPTIONS={"key_prefix": REDIS_PREFIX, **REDIS_TIMEOUTS})
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, _limit_exceeded)
    app.register_error_handler(RateLimited, _rate_limited)
