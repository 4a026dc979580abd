"""Rate limits by participant (never by address alone), moving window, Redis-backed when shared."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError

from board.live.breaker import Breaker

log = logging.getLogger(__name__)


class Admission(IntEnum):
    IN = 0
    TOO_FAST = 1
    TURNED_AWAY = 2


@dataclass(frozen=True)
class Entry:
    """One use to count: `key` under the second rule, after `first_key` (if any) under the first."""

    group: str
    key: str
    first_key: str | None = None


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

    async def admit(self, entries: Sequence[Entry], first: str, then: str) -> list[Admission]:
        """Count each entry's uses in turn: `first` for its `first_key` when it has one (a newcomer's
        address), then `then` for its key (the participant).

        A use refused is not counted, and an entry refused under `first` bars the later entries of its
        group, uncounted too: a newcomer turned away at the door casts none of their votes. The vote
        writer does the same on Redis in one call (`board.live.rounds`).
        """
        barred: set[str] = set()
        verdicts = []
        for entry in entries:
            if entry.group in barred:
                verdicts.append(Admission.TURNED_AWAY)
            elif entry.first_key is not None and not await self.hit(first, entry.first_key):
                barred.add(entry.group)
                verdicts.append(Admission.TURNED_AWAY)
            elif not await self.hit(then, entry.key):
                verdicts.append(Admission.TOO_FAST)
            else:
                verdicts.append(Admission.IN)
        return verdicts

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


class RedisPyStorage(RedisStorage):
    """limits' async Redis storage on redis-py alone: the stock class imports coredis (and with it
    beartype and numpy, about 30 MB per worker) to look for it, even when told to use redis-py."""

    DEPENDENCIES = {"redis": RedisStorage.DEPENDENCIES["redis"]}  # noqa: RUF012 (the base's own form)


def memory_limits(rules: dict[str, str]) -> RateLimits:
    return RateLimits(MemoryStorage(), rules)


def redis_limits(
    url: str, prefix: str, rules: dict[str, str], pool: ConnectionPool, breaker: Breaker
) -> RateLimits:
    """Limits on the live layer's own connection pool, so they share its connections."""
    uri = "async+" + url if not url.startswith("async+") else url
    storage = RedisPyStorage(
        uri,
        implementation="redispy",
        key_prefix=f"{prefix}limits",
        connection_pool=pool,  # type: ignore[arg-type]
    )
    return RateLimits(storage, rules, breaker)
