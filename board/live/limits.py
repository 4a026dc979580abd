"""Rate limits by participant (never by address alone), moving window, Redis-backed when shared."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from typing import cast

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.storage.redis.redispy import RedispyBridge
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import ConnectionPool, Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from board.live.breaker import Breaker

log = logging.getLogger(__name__)


class RateLimits:
    def __init__(self, storage: Storage, rules: dict[str, str], breaker: Breaker | None = None) -> None:
        self.storage = storage
        self.breaker = breaker or Breaker()
        self.limiter = MovingWindowRateLimiter(storage)
        self.rules: dict[str, RateLimitItem] = {kind: parse(rule) for kind, rule in rules.items()}
        self._acquire_many: AsyncScript | None = None

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

    async def hit_many(self, kind: str, keys: Sequence[str]) -> list[bool]:
        """Count one use for each key, in one Redis call; False where a limit was already reached.

        On Redis this runs the limits library's own moving-window script once per key inside a
        single script call, so a batch of votes costs one round trip.
        """
        if not keys:
            return []
        bridge = getattr(self.storage, "bridge", None)
        if self.breaker.open or not isinstance(bridge, RedispyBridge):
            return list(await asyncio.gather(*(self.hit(kind, key) for key in keys)))
        if self._acquire_many is None:
            client = cast(Redis, bridge.get_connection())
            self._acquire_many = client.register_script(
                _each_key(bridge.SCRIPT_ACQUIRE_MOVING_WINDOW.decode())
            )
        item = self.rules[kind]
        try:
            acquired = await self._acquire_many(
                [bridge.prefixed_key(item.key_for(key)) for key in keys],
                [time.time(), item.amount, item.get_expiry(), 1],
            )
        except (RedisError, OSError):
            self.breaker.trip()
            log.warning("rate limits unreachable; uses not counted")
            return [True] * len(keys)
        return [bool(flag) for flag in acquired]

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

    async def clear(self, kind: str, key: str) -> None:
        """Forget the uses counted for `key`, e.g. a person's failed sign-ins once they got in."""
        if self.breaker.open:
            return
        try:
            await self.limiter.clear(self.rules[kind], key)
        except (RedisError, OSError):
            self.breaker.trip()
            log.warning("rate limits unreachable; uses not cleared")


def _each_key(script: str) -> str:
    """A Lua script that runs a one-key limits script on every key it is given, with the same arguments."""
    return (
        "local function acquire(KEYS, ARGV)\n"
        f"{script}\n"
        "end\n"
        "local acquired = {}\n"
        "for i = 1, #KEYS do\n"
        "    acquired[i] = acquire({KEYS[i]}, ARGV) and 1 or 0\n"
        "end\n"
        "return acquired\n"
    )


def memory_limits(rules: dict[str, str]) -> RateLimits:
    return RateLimits(MemoryStorage(), rules)


def redis_limits(
    url: str, prefix: str, rules: dict[str, str], pool: ConnectionPool, breaker: Breaker
) -> RateLimits:
    """Limits on the live layer's own connection pool, so they share its connections."""
    uri = "async+" + url if not url.startswith("async+") else url
    storage = RedisStorage(uri, implementation="redispy", key_prefix=f"{prefix}limits", connection_pool=pool)  # type: ignore[arg-type]
    return RateLimits(storage, rules, breaker)
