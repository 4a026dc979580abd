"""Redis pub/sub: channels are named under the board's prefix, and streams resume after an outage."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from redis.asyncio import Redis

from board.live import Live, build_live
from board.live.channels import Message
from board.live.messages import Ping, Status
from tests.conftest import REDIS_URL, SLUG, Board, drop_redis_prefix, free_port, get_scope, start_board
from tests.test_live_contract import RULES

REDIS_PORT = 6379


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {within} s: {what}")


class RedisProxy:
    """A TCP relay to the real Redis that the test cuts and restores, so Redis goes away for one board only.

    Cut, every relayed connection is reset and the port refuses new ones, as when Redis stops.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            redis_reader, redis_writer = await asyncio.open_connection("127.0.0.1", REDIS_PORT)
        except OSError:
            client_writer.transport.abort()
            return
        if not self.running:
            for writer in (client_writer, redis_writer):
                writer.transport.abort()
            return
        self._writers.update((client_writer, redis_writer))

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with suppress(OSError):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            writer.transport.abort()

        await asyncio.gather(pipe(client_reader, redis_writer), pipe(redis_reader, client_writer))
        self._writers.difference_update((client_writer, redis_writer))


@pytest.fixture
async def proxy() -> AsyncIterator[RedisProxy]:
    relay = RedisProxy()
    await relay.start()
    yield relay
    await relay.stop()


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def channels_named(redis: Redis, prefix: str) -> set[str]:
    """What Redis itself lists as subscribed under `prefix`, as `PUBSUB CHANNELS prefix*` shows it."""
    names: list[bytes | str] = await redis.pubsub_channels(f"{prefix}*")
    return {name.decode() if isinstance(name, bytes) else name for name in names}


@asynccontextmanager
async def live_layer(redis_url: str = REDIS_URL) -> AsyncIterator[tuple[Live, str]]:
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    layer = build_live(redis_url, prefix, RULES)
    try:
        async with layer.channels.plugin:
            yield layer, prefix
    finally:
        await layer.close()
        await drop_redis_prefix(prefix)


def said(name: str, last: bool = False) -> Status:
    """A message that names its sender."""
    return Status(f"from {name}{' last' if last else ''}")


class Collector:
    """Everything one subscription hears, gathered in the background."""

    def __init__(self, stream: AsyncIterator[Message]) -> None:
        self.heard: list[Message] = []
        self._task = asyncio.create_task(self._run(stream))

    async def _run(self, stream: AsyncIterator[Message]) -> None:
        async for message in stream:
            if not isinstance(message, Ping):
                self.heard.append(message)

    def senders(self) -> set[str]:
        return {
            m.status.split()[1] for m in self.heard if isinstance(m, Status) and m.status.startswith("from ")
        }

    async def stop(self) -> None:
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task


async def heard_from_itself(name: str, layer: Live, collector: Collector, last: bool = False) -> None:
    """Publish from board `name` on thread:1 until its own subscription hears it."""

    async def check() -> bool:
        if said(name, last) in collector.heard:
            return True
        layer.channels.send(said(name, last), ["thread:1"])
        return False

    await until(check, f"board {name} hears its own message on thread:1")


async def test_boards_sharing_a_redis_never_hear_each_other() -> None:
    async with (
        live_layer() as (one, _),
        live_layer() as (two, _),
        one.channels.subscribe(["thread:1"]) as one_stream,
        two.channels.subscribe(["thread:1"]) as two_stream,
    ):
        collectors = {"one": Collector(one_stream), "two": Collector(two_stream)}
        try:
            await heard_from_itself("one", one, collectors["one"])
            await heard_from_itself("two", two, collectors["two"])
            await heard_from_itself("one", one, collectors["one"], last=True)
            await heard_from_itself("two", two, collectors["two"], last=True)
            assert collectors["one"].senders() == {"one"}
            assert collectors["two"].senders() == {"two"}
        finally:
            for collector in collectors.values():
                await collector.stop()


async def test_redis_lists_the_channels_under_the_board_prefix(redis: Redis) -> None:
    async with live_layer() as (layer, prefix):
        wanted = {f"{prefix}thread:1", f"{prefix}event:{SLUG}"}
        async with layer.channels.subscribe(["thread:1", f"event:{SLUG}"]) as stream:

            async def listed() -> bool:
                return await channels_named(redis, prefix) == wanted

            await until(listed, f"PUBSUB CHANNELS {prefix}* lists {wanted}")
            async with redis.pubsub() as raw:
                await raw.subscribe(f"{prefix}thread:1")
                await raw.get_message(timeout=1)
                layer.channels.send(said("board"), ["thread:1"])
                received = await raw.get_message(ignore_subscribe_messages=True, timeout=5)
            assert received is not None and received["channel"] == f"{prefix}thread:1".encode()
            message = await asyncio.wait_for(anext(stream), 5)
            assert message == said("board")

        async def gone() -> bool:
            return not await channels_named(redis, prefix)

        await until(gone, "the channels are unsubscribed when the last subscriber leaves")


async def test_a_subscription_made_while_redis_is_down_starts_when_it_returns(
    proxy: RedisProxy, redis: Redis
) -> None:
    await proxy.stop()
    async with live_layer(proxy.url) as (layer, prefix), layer.channels.subscribe(["thread:1"]) as stream:
        collector = Collector(stream)
        try:
            await proxy.start()

            async def listed() -> bool:
                return await channels_named(redis, prefix) == {f"{prefix}thread:1"}

            await until(listed, "thread:1 subscribed once Redis is back")
            layer.channels.send(said("after"), ["thread:1"])

            async def heard() -> bool:
                return collector.senders() == {"after"}

            await until(heard, "the message published after the outage arrives")
        finally:
            await collector.stop()


class EventStream:
    """A server-sent event stream read from the ASGI app as it is sent (httpx's ASGI transport waits for the end)."""

    def __init__(self, app: Litestar, path: str) -> None:
        self.status: int | None = None
        self.events: list[tuple[str, str]] = []
        self._text = ""
        self._asked = False
        self._gone = asyncio.Event()
        scope = get_scope(path, [(b"host", b"testserver.local"), (b"accept", b"text/event-stream")])
        self._task = asyncio.create_task(app(scope, self._receive, self._send))  # type: ignore[arg-type]

    async def _receive(self) -> dict[str, Any]:
        if not self._asked:
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self._text = (self._text + message.get("body", b"").decode()).replace("\r\n", "\n")
            *blocks, self._text = self._text.split("\n\n")
            for block in blocks:
                fields = [line.partition(": ") for line in block.split("\n")]
                kind = next((value for key, _, value in fields if key == "event"), "")
                data = "\n".join(value for key, _, value in fields if key == "data")
                if kind:
                    self.events.append((kind, data))

    def has(self, kind: str, text: str = "") -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return any(k == kind and text in data for k, data in self.events)

        return check

    @property
    def open(self) -> bool:
        return self.status == 200 and not self._task.done()

    async def close(self) -> None:
        self._gone.set()
        try:
            await asyncio.wait_for(self._task, 5)
        except TimeoutError:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task


@pytest.fixture
async def proxied_board(tmp_path: Path, proxy: RedisProxy) -> AsyncIterator[Board]:
    """The board on the real Redis through the proxy, so the test can take Redis away from it alone."""
    async for board in start_board(tmp_path, redis_url=proxy.url):
        yield board
        if not proxy.running:
            await proxy.start()


async def test_streams_opened_before_and_during_an_outage_resume_when_redis_returns(
    proxied_board: Board, proxy: RedisProxy, redis: Redis
) -> None:
    board = proxied_board
    prefix = board.ctx.settings.redis_prefix
    before, during, left = (await board.thread_ids())[:3]
    phone = await board.phone(f"/e/{SLUG}/t/{before}")

    def readyz(status: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return (await phone.http.get("/readyz")).status_code == status

        return check

    def subscribed(threads: set[int]) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return {f"{prefix}thread:{t}" for t in threads} <= await channels_named(redis, prefix)

        return check

    first = EventStream(board.app, f"/e/{SLUG}/t/{before}/stream")
    second: EventStream | None = None
    third: EventStream | None = None
    try:
        await until(first.has("counts"), "the first stream's snapshot")
        await until(subscribed({before}), "the first stream's channel")

        await proxy.stop()
        await until(readyz(503), "/readyz says 503 while Redis is down")
        second = EventStream(board.app, f"/e/{SLUG}/t/{during}/stream")
        await until(second.has("counts"), "a stream opened during the outage gets its snapshot")
        third = EventStream(board.app, f"/e/{SLUG}/t/{left}/stream")
        await until(third.has("counts"), "another stream opened during the outage")
        await third.close()
        assert (await phone.http.get("/readyz")).status_code == 503

        await proxy.start()
        await until(readyz(200), "/readyz says 200 once Redis is back")
        await until(subscribed({before, during}), "both open streams' channels subscribed again")
        assert f"{prefix}thread:{left}" not in await channels_named(redis, prefix)
        assert first.open and second.open
        for stream in (first, second):
            await until(stream.has("status", "answers"), "open pages are told to refresh what they missed")
        for thread, stream in ((before, first), (during, second)):
            await phone.open(f"/e/{SLUG}/t/{thread}")
            body = f"Retour de Redis sur le fil {thread}"
            posted = await phone.submit(f"/e/{SLUG}/t/{thread}/answers", {"body": body}, htmx=True)
            assert posted.status_code == 201, posted.text
            await until(stream.has("answer", body), f"the stream of thread {thread} hears the new answer")
    finally:
        for opened in (first, second, third):
            if opened is not None:
                await opened.close()
