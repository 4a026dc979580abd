"""Redis pub/sub for the board's channels: named under the board's prefix, and lasting through outages.

Litestar's Redis backend subscribes under the bare channel names (two boards sharing a Redis would
hear each other) and forgets a channel whose SUBSCRIBE failed, so a stream opened during an outage
would stay silent for good. Live updates are a convenience on top of SQL: here an outage costs the
messages sent during it and nothing more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress
from typing import Any

from litestar.channels.backends.base import ChannelsBackend
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from board.live.breaker import Breaker
from board.live.messages import REFRESH, encode

log = logging.getLogger(__name__)
RETRY_SECONDS = 1.0
POLL_SECONDS = 1.0


def redis_channel(prefix: str, channel: str) -> str:
    """A board channel's name in Redis: under the board's prefix, so two boards never hear each other."""
    return f"{prefix}{channel}"


RESUMED = encode(REFRESH)
"""Told to every stream once its channel is subscribed again: what was published meanwhile is lost, so
pages refresh what they show."""


class RedisPubSubBackend(ChannelsBackend):
    """Channels over Redis pub/sub, each named `{prefix}{channel}` in Redis.

    It remembers every channel the plugin wants, whether or not Redis heard about it. Any failure
    (subscribe, unsubscribe, reading) puts it out of sync; the listening loop then waits `retry`
    seconds, drops its PubSub for a fresh one and subscribes to every wanted channel at once, until
    Redis answers. A lock keeps subscribe and unsubscribe from interleaving with that resync.
    """

    def __init__(
        self, redis: Redis, prefix: str, breaker: Breaker | None = None, retry: float = RETRY_SECONDS
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._breaker = breaker or Breaker()
        self._retry = retry
        self._wanted: set[str] = set()
        self._pubsub: PubSub | None = None
        self._in_sync = True
        self._dropping = False
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()

    @property
    def listening(self) -> bool:
        """False while wanted channels wait to be subscribed again after a failure."""
        return self._in_sync

    def _names(self, channels: Iterable[str]) -> list[str]:
        return [redis_channel(self._prefix, channel) for channel in channels]

    async def on_startup(self) -> None:
        pass

    async def on_shutdown(self) -> None:
        async with self._lock:
            self._wanted.clear()
            await self._drop_pubsub()

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        """Send `data` on every channel in one round trip; if Redis fails, it is dropped, never raised.

        The plugin publishes from one task that would stop for good on an exception. The breaker is
        not consulted: it may still be pausing after Redis is back, and other workers' streams want
        the message.
        """
        names = self._names(set(channels))
        if not names:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.publish(name, data)
                await pipe.execute()
        except Exception as error:
            if isinstance(error, RedisError | OSError):
                self._breaker.trip()
            if not self._dropping:
                log.warning("redis pub/sub failed (%r): live updates are dropped", error)
            self._dropping = True
            return
        if self._dropping:
            log.warning("live updates are sent again")
        self._dropping = False

    async def subscribe(self, channels: Iterable[str]) -> None:
        new = set(channels)
        async with self._lock:
            self._wanted |= new
            if self._in_sync and new:
                if self._pubsub is None:
                    self._pubsub = self._redis.pubsub()
                async with self._guard():
                    await self._pubsub.subscribe(*self._names(new))
        self._wake.set()

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        gone = set(channels)
        async with self._lock:
            self._wanted -= gone
            if self._in_sync and gone and self._pubsub is not None:
                async with self._guard():
                    await self._pubsub.unsubscribe(*self._names(gone))

    async def stream_events(self) -> AsyncGenerator[tuple[str, Any], None]:
        """Messages of the wanted channels, under their unprefixed names; never raises.

        The plugin reads this generator in one task: if it ended, live updates would stop in this worker.
        """
        while True:
            if not self._in_sync:
                await asyncio.sleep(self._retry)
                await self._resync()
                if self._in_sync:
                    for channel in sorted(self._wanted):
                        yield channel, RESUMED
                continue
            pubsub = self._pubsub
            if pubsub is None or pubsub.connection is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL_SECONDS)
            except Exception as error:
                if pubsub is self._pubsub:
                    self._lost(error)
                continue
            event = self._event(message)
            if event is not None:
                yield event

    async def get_history(self, channel: str, limit: int | None = None) -> list[bytes]:
        """Pub/sub keeps no history."""
        raise NotImplementedError

    def _event(self, message: dict[str, Any] | None) -> tuple[str, bytes] | None:
        if message is None or message.get("type") != "message":
            return None
        name = message["channel"]
        name = name.decode() if isinstance(name, bytes) else str(name)
        if not name.startswith(self._prefix):
            return None
        channel = name[len(self._prefix) :]
        if channel not in self._wanted:
            return None
        return channel, message["data"]

    @asynccontextmanager
    async def _guard(self) -> AsyncIterator[None]:
        """A failed or interrupted command may leave the PubSub half-subscribed: resync rather than guess."""
        try:
            yield
        except asyncio.CancelledError as error:
            self._lost(error)
            raise
        except Exception as error:
            self._lost(error)

    def _lost(self, error: BaseException) -> None:
        """Out of sync; the breaker is left alone, as Redis drops a slow subscriber while still up."""
        if self._in_sync:
            log.warning("redis pub/sub failed (%r): live updates paused", error)
        self._in_sync = False
        self._wake.set()

    async def _resync(self) -> None:
        """A fresh PubSub on every wanted channel; a success proves Redis is back, so the breaker closes."""
        async with self._lock:
            if self._in_sync:
                return
            await self._drop_pubsub()
            if not self._wanted:
                self._in_sync = True
                return
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(*self._names(self._wanted))
            except Exception as error:
                with suppress(Exception):
                    await pubsub.aclose()
                if isinstance(error, RedisError | OSError):
                    self._breaker.trip()
                return
            self._pubsub = pubsub
            self._in_sync = True
            self._breaker.reset()
        log.warning("redis pub/sub subscribed again: live updates resumed")

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with suppress(Exception):
                await pubsub.aclose()
