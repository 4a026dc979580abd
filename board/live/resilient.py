"""Redis pub/sub that survives Redis going away: publishing drops, listening waits and resumes.

Litestar's channel workers stop for good on the first connection error; live updates are a
convenience on top of SQL, so here an outage costs the messages sent during it and nothing more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Iterable
from typing import Any

from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
RETRY_SECONDS = 1.0


class ResilientPubSubBackend(RedisChannelsPubSubBackend):
    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        try:
            await super().publish(data, channels)
        except (RedisError, OSError):
            log.warning("redis unreachable: a live update was not sent")

    async def subscribe(self, channels: Iterable[str]) -> None:
        try:
            await super().subscribe(channels)
        except (RedisError, OSError):
            log.warning("redis unreachable: subscription will resume when it is back")
            self._has_subscribed.set()

    async def stream_events(self) -> AsyncGenerator[tuple[str, Any], None]:
        while True:
            try:
                async for event in super().stream_events():
                    yield event
            except (RedisError, OSError):
                log.warning("redis unreachable: live updates paused")
                await asyncio.sleep(RETRY_SECONDS)
