"""Publish and subscribe on the board's channels, with count updates coalesced per stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from contextlib import asynccontextmanager

from litestar.channels import ChannelsPlugin
from litestar.channels.subscriber import BacklogStrategy, Subscriber

from board.live.messages import Counts, Message, Ping, decode, encode, merge_counts

COUNTS_INTERVAL = 0.25
HEARTBEAT = 15.0


def thread_channel(thread_id: int) -> str:
    return f"thread:{thread_id}"


def event_channel(slug: str) -> str:
    return f"event:{slug}"


def mod_channel(slug: str) -> str:
    return f"mod:{slug}"


class Inbox(Subscriber):
    """One stream's subscription, lean because a worker holds a thousand of them: messages are decoded
    (once per process) as the plugin hands them over, `counts` wait merged per thread, and the reader
    sleeps on one future. No queue of raw bytes, no task of its own, nothing per wait but a timer.

    `messages()` passes messages through, but lets `counts` out at most once per `interval` per thread;
    a `ping` comes out after `heartbeat` seconds of silence, so idle streams stay open through proxies.
    """

    def __init__(
        self,
        plugin: ChannelsPlugin,
        max_backlog: int | None = None,
        backlog_strategy: BacklogStrategy = "dropleft",
    ) -> None:
        # Subscriber.__init__ would build a queue of raw messages that is never read here.
        self._task = None
        self._plugin = plugin
        self._backend = plugin._backend
        self._backlog = max_backlog or 0
        self._waiting: list[Message] = []
        self._held: dict[int | None, Counts] = {}
        self._ended = False
        self._waiter: asyncio.Future[bool] | None = None

    def put_nowait(self, item: bytes | None) -> bool:
        if item is None:
            self._ended = True
        else:
            message = decode(item)
            if isinstance(message, Counts):
                held = self._held.get(message.thread)
                self._held[message.thread] = message if held is None else merge_counts(held, message)
            else:
                self._waiting.append(message)
                if self._backlog and len(self._waiting) > self._backlog:
                    del self._waiting[0]
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(True)
        return True

    async def put(self, item: bytes | None) -> None:
        self.put_nowait(item)

    @property
    def qsize(self) -> int:
        return len(self._waiting) + len(self._held)

    async def iter_events(self) -> AsyncGenerator[bytes, None]:
        raise NotImplementedError("an Inbox is read through messages()")
        yield b""  # pragma: no cover

    async def messages(
        self, interval: float = COUNTS_INTERVAL, heartbeat: float = HEARTBEAT
    ) -> AsyncIterator[Message]:
        loop = asyncio.get_running_loop()
        last: dict[int | None, float] = {}
        while True:
            now = loop.time()
            for thread in [t for t in self._held if now - last.get(t, -1e9) >= interval]:
                last[thread] = now
                yield self._held.pop(thread)
            if self._waiting:
                yield self._waiting.pop(0)
                continue
            if self._ended:
                return
            wait = min(last[t] + interval for t in self._held) - now if self._held else heartbeat
            if not await self._sleep(loop, max(wait, 0.001)) and not self._held:
                yield Ping()

    async def _sleep(self, loop: asyncio.AbstractEventLoop, seconds: float) -> bool:
        """True when a message came, False when `seconds` passed first."""
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(seconds, _expire, waiter)
        try:
            return await waiter
        finally:
            timer.cancel()
            self._waiter = None


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


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
            assert isinstance(subscriber, Inbox), "the plugin is built with subscriber_class=Inbox"
            stream = subscriber.messages(interval)
            try:
                yield stream
            finally:
                await stream.aclose()  # type: ignore[attr-defined]
