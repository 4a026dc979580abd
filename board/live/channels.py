"""Publish and subscribe on the board's channels, with count updates coalesced per stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress
from functools import lru_cache
from typing import Any

from litestar.channels import ChannelsPlugin

COUNTS_INTERVAL = 0.25
HEARTBEAT = 15.0
Message = dict[str, Any]


def thread_channel(thread_id: int) -> str:
    return f"thread:{thread_id}"


def event_channel(slug: str) -> str:
    return f"event:{slug}"


def mod_channel(slug: str) -> str:
    return f"mod:{slug}"


@lru_cache(maxsize=512)
def decode(raw: bytes) -> Message:
    """One decoding per message and process, shared by every stream: callers must not mutate it."""
    message: Message = json.loads(raw)
    return message


def _merge_counts(into: Message, newer: Message) -> Message:
    """Counts are absolute, so the newer value of each answer simply wins."""
    answers = dict(into.get("answers", {}))
    answers.update(newer.get("answers", {}))
    merged = dict(newer)
    merged["answers"] = answers
    return merged


async def coalesce(
    events: AsyncIterator[bytes], interval: float = COUNTS_INTERVAL, heartbeat: float = HEARTBEAT
) -> AsyncIterator[Message]:
    """Pass messages through, but let `counts` out at most once per `interval` per thread.

    A `ping` comes out after `heartbeat` seconds of silence, so idle streams stay open through proxies.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Message | None] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for raw in events:
                queue.put_nowait(decode(raw))
        finally:
            queue.put_nowait(None)

    task = asyncio.create_task(pump())
    held: dict[Any, Message] = {}
    last: dict[Any, float] = {}
    try:
        while True:
            now = loop.time()
            due = [t for t in held if now - last.get(t, -1e9) >= interval]
            for thread in due:
                last[thread] = now
                yield held.pop(thread)
            wait = min(last[t] + interval for t in held) - now if held else heartbeat
            try:
                message = await asyncio.wait_for(queue.get(), max(wait, 0.001))
            except TimeoutError:
                if not held:
                    yield {"type": "ping"}
                continue
            if message is None:
                break
            if message.get("type") == "counts":
                thread = message.get("thread")
                held[thread] = _merge_counts(held[thread], message) if thread in held else message
            else:
                yield message
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


class Channels:
    """The board's pub/sub, over Litestar's ChannelsPlugin (Redis pub/sub or in-process)."""

    def __init__(self, plugin: ChannelsPlugin) -> None:
        self.plugin = plugin

    def publish(self, message: Message, channels: Iterable[str]) -> None:
        self.plugin.publish(json.dumps(message, separators=(",", ":")), list(channels))

    @asynccontextmanager
    async def subscribe(
        self, channels: Iterable[str], interval: float = COUNTS_INTERVAL
    ) -> AsyncIterator[AsyncIterator[Message]]:
        async with self.plugin.start_subscription(list(channels)) as subscriber:
            stream = coalesce(subscriber.iter_events(), interval)
            try:
                yield stream
            finally:
                await stream.aclose()  # type: ignore[attr-defined]
