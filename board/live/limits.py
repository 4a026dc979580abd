"""Rate limits by participant (never by address alone), moving window, Redis-backed when shared."""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError

from board.live.breaker import Breaker

log = logging.getLogger(__name__)


class RateLimits:
    def __init__(self, storage: Storage, rules: dict[str, str], breaker: Breaker | None = None) -> None:
        self.storage = storage
        self.breaker = breaker or Breaker()
        self.limiter = MovingWindowRateLimiter(storage)
        self.rules: dict[str, RateLimitItem] = {kind: parse(rule) for kind, rule in rules.items()}

    async def retry_after(self, kind: str, key: str) -> int | None:
        """Seconds to wait if `key` has used up `kind`, else None. Counts nothing.

        If the limits' store is unreachable, nobody is held back: answers and votes still go to SQL.
        """
        item = self.rules[kind]
        if self.breaker.open:
            return None
        try:
            if await self.limiter.test(item, key):
                return None
            stats = await self.limiter.get_window_stats(item, key)
        except (RedisError, OSError):
            self.breaker.trip()
            log.warning("rate limits unreachable; letting the request through")
            return None
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def hit(self, kind: str, key: str) -> bool:
        """Count one use; False if the limit was already reached."""
        if self.breaker.open:
            return True
        try:
            return await self.limiter.hit(self.rules[kind], key)
        except (RedisError, OSError):
            self.breaker.trip()
            log.warning("rate limits unreachable; use not counted")
            return True


def memory_limits(rules: dict[str, str]) -> RateLimits:
    return RateLimits(MemoryStorage(), rules)


def redis_limits(
    url: str, prefix: str, rules: dict[str, str], pool: ConnectionPool, breaker: Breaker
) -> RateLimits:
    """Limits on the live layer's own connection pool, so they share its connections."""
    uri = "async+" + url if not url.startswith("async+") else url
    storage = RedisStorage(uri, implementation="redispy", key_prefix=f"{prefix}limits", connection_pool=pool)  # type: ignore[arg-type]
    return RateLimits(storage, rules, breaker)
