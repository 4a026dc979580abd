"""The live layer: counters, channels and rate limits, on Redis or in process memory."""

from __future__ import annotations

from dataclasses import dataclass, field

from litestar.channels import ChannelsPlugin
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from board.live.breaker import Breaker
from board.live.channels import Channels, Inbox
from board.live.counters import Counters, MemoryCounters, RedisCounters
from board.live.limits import RateLimits, memory_limits, redis_limits
from board.live.opinion_cache import MemoryOpinionCache, OpinionCache, RedisOpinionCache
from board.live.pubsub import RedisPubSubBackend
from board.live.rounds import MemoryRounds, RedisRounds, Rounds

UNREACHABLE: tuple[type[Exception], ...] = (RedisError, OSError)
"""What the live layer raises when Redis cannot be reached; anything else is a bug and propagates."""


@dataclass
class Live:
    counters: Counters
    channels: Channels
    limits: RateLimits
    sessions: Store
    rounds: Rounds
    redis: Redis | None = None
    pubsub: RedisPubSubBackend | None = None
    opinions: OpinionCache = field(default_factory=MemoryOpinionCache)

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


def _plugin(backend: ChannelsBackend) -> ChannelsPlugin:
    return ChannelsPlugin(
        backend=backend,
        arbitrary_channels_allowed=True,
        subscriber_max_backlog=1000,
        subscriber_backlog_strategy="dropleft",
        subscriber_class=Inbox,
    )


def build_live(redis_url: str | None, prefix: str, rules: dict[str, str]) -> Live:
    """Redis when a URL is given, otherwise the in-process layer (one worker only)."""
    if redis_url is None:
        counters, channels, limits = (
            MemoryCounters(),
            Channels(_plugin(MemoryChannelsBackend())),
            memory_limits(rules),
        )
        return Live(counters, channels, limits, MemoryStore(), MemoryRounds(counters, channels, limits))
    pool = BlockingConnectionPool.from_url(
        redis_url,
        max_connections=256,
        timeout=5,
        socket_timeout=2,
        socket_connect_timeout=2,
        health_check_interval=10,
    )
    redis = Redis(connection_pool=pool)
    breaker = Breaker()
    pubsub = RedisPubSubBackend(redis, prefix, breaker)
    limits = redis_limits(redis_url, prefix, rules, pool, breaker)
    return Live(
        RedisCounters(redis, prefix, breaker),
        Channels(_plugin(pubsub)),
        limits,
        RedisStore(redis, namespace=f"{prefix}sessions"),
        RedisRounds(redis, prefix, limits, breaker),
        redis,
        pubsub,
        RedisOpinionCache(redis, prefix),
    )
