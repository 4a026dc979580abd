"""Publish and subscribe on the board's channels, with count updates coalesced per stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress

from litestar.channels import ChannelsPlugin

from board.live.messages import Counts, Message, Ping, decode, encode, merge_counts

COUNTS_INTERVAL = 0.25
HEARTBEAT = 15.0


def thread_channel(thread_id: int) -> str:
    return f"thread:{thread_id}"


def event_channel(slug: str) -> str:
    return f"event:{slug}"


def mod_channel(slug: str) -> str:
    return f"mod:{slug}"


async def coalesce(
    events: AsyncIterator[bytes | str], interval: float = COUNTS_INTERVAL, heartbeat: float = HEARTBEAT
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
    held: dict[int | None, Counts] = {}
    last: dict[int | None, float] = {}
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
                    yield Ping()
                continue
            if message is None:
                break
            if isinstance(message, Counts):
                thread = message.thread
                held[thread] = merge_counts(held[thread], message) if thread in held else message
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

    def send(self, message: Message, channels: Iterable[str]) -> None:
        self.plugin.publish(encode(message), list(channels))

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
