"""Rate limits every worker shares, in Redis: a user's tier (requests and tokens per minute, concurrent
calls) and each provider's (requests and tokens per minute).

Per-minute limits count in fixed one-minute windows (a window's counters expire with it); concurrent
calls are a sorted set of job ids scored by when their slot lapses, so a worker killed mid-call frees
its slot by itself. Tokens are counted as estimated before the call (prompt plus max_tokens).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis import Redis

# KEYS: requests counter, tokens counter, concurrency set (or "" for none);
# ARGV: rpm, tpm, concurrent (-1: unlimited), tokens, member, now ms, slot ttl ms, seconds left in the window.
_ACQUIRE = """
local rpm, tpm, conc = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens, now, left = tonumber(ARGV[4]), tonumber(ARGV[6]), tonumber(ARGV[8])
if conc >= 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
    if not redis.call('ZSCORE', KEYS[3], ARGV[5]) and redis.call('ZCARD', KEYS[3]) >= conc then
        return {'concurrent_calls', 1}
    end
end
if rpm >= 0 and tonumber(redis.call('GET', KEYS[1]) or '0') + 1 > rpm then return {'requests_per_minute', left} end
if tpm >= 0 and tonumber(redis.call('GET', KEYS[2]) or '0') + tokens > tpm then return {'tokens_per_minute', left} end
redis.call('INCR', KEYS[1]); redis.call('EXPIRE', KEYS[1], 61)
redis.call('INCRBY', KEYS[2], tokens); redis.call('EXPIRE', KEYS[2], 61)
if conc >= 0 then
    redis.call('ZADD', KEYS[3], now + tonumber(ARGV[7]), ARGV[5]); redis.call('PEXPIRE', KEYS[3], ARGV[7])
end
return {'ok', 0}
"""


@dataclass(frozen=True)
class Refusal:
    limit: str
    retry_after: int  # seconds


class RateLimits:
    def __init__(self, redis: Redis):
        self.redis = redis
        self._acquire = redis.register_script(_ACQUIRE)

    def acquire(self, scope: str, *, rpm: int | None, tpm: int | None, concurrent: int | None, tokens: int,
                member: str = "", slot_seconds: float = 0) -> Refusal | None:
        """Count one call of `tokens` against `scope`'s limits, or say which limit refuses it and for how long."""
        now = time.time()
        window = int(now // 60)
        limit, retry_after = self._acquire(
            keys=[f"conveyor:llm:limits:{scope}:requests:{window}", f"conveyor:llm:limits:{scope}:tokens:{window}",
                  f"conveyor:llm:limits:{scope}:running"],
            args=[_limit(rpm), _limit(tpm), _limit(concurrent), tokens, member, int(now * 1000),
                  int(slot_seconds * 1000), max(1, int(60 - now % 60) + 1)])
        return None if limit == "ok" else Refusal(limit, int(retry_after))

    def release(self, scope: str, member: str) -> None:
        self.redis.zrem(f"conveyor:llm:limits:{scope}:running", member)


def _limit(value: int | None) -> int:
    return -1 if value is None else value
