"""Caps on open live streams: one phone or one script cannot hold thousands of them in a worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from board.settings import Settings, SettingsError
from tests.conftest import SLUG, Board, Phone, get_scope, start_board


class Stream:
    """One SSE request driven over raw ASGI, held open until closed (httpx's ASGI transport would
    wait for the end of the body, which an event stream never reaches)."""

    def __init__(self, board: Board, path: str, phone: Phone | None, address: str) -> None:
        cookies = "; ".join(f"{k}={v}" for k, v in phone.http.cookies.items()) if phone else ""
        headers = [(b"host", b"testserver.local"), (b"accept", b"text/event-stream")]
        if cookies:
            headers.append((b"cookie", cookies.encode()))
        self.scope = get_scope(path, headers, address)
        self.app = board.app
        self.started = asyncio.Event()
        self.gone = asyncio.Event()
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""
        self.task: asyncio.Task[None] | None = None

    async def open(self) -> int:
        asked = False

        async def receive() -> dict[str, Any]:
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await self.gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
                self.headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
                self.started.set()
            elif message["type"] == "http.response.body" and self.status != 200:
                self.body += message.get("body", b"")

        self.task = asyncio.create_task(self.app(self.scope, receive, send))  # type: ignore[arg-type]
        await asyncio.wait_for(self.started.wait(), 5)
        if self.status != 200:
            await asyncio.wait_for(self.task, 5)
        return self.status

    async def close(self) -> None:
        """The client goes away, as a browser tab being closed."""
        self.gone.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, 5)

    async def cancel(self) -> None:
        """The server drops the request, as on shutdown."""
        assert self.task is not None
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task


class Streams:
    """The streams a test opened on the board, closed at the end whatever happened."""

    def __init__(self, board: Board) -> None:
        self.board = board
        self.opened: list[Stream] = []

    async def open(self, path: str, phone: Phone | None, address: str) -> Stream:
        stream = Stream(self.board, path, phone, address)
        self.opened.append(stream)
        await stream.open()
        return stream

    async def held(self, paths: list[str], phone: Phone | None, address: str) -> list[Stream]:
        """Streams that must all be let in."""
        streams = [await self.open(path, phone, address) for path in paths]
        assert [s.status for s in streams] == [200] * len(paths)
        return streams


@pytest.fixture
async def capped(tmp_path: Path) -> AsyncIterator[tuple[Board, Streams]]:
    """The board with 2 streams per participant or staff session and 4 per address."""
    async for board in start_board(tmp_path, stream_limit_participant=2, stream_limit_address=4):
        streams = Streams(board)
        try:
            yield board, streams
        finally:
            for stream in streams.opened:
                if stream.task is not None and not stream.task.done():
                    await stream.close()


async def test_a_participant_gets_a_few_streams_then_429_until_one_closes(
    capped: tuple[Board, Streams],
) -> None:
    board, streams = capped
    [thread_id, *_] = await board.thread_ids()
    thread_path, event_path = f"/e/{SLUG}/t/{thread_id}/stream", f"/e/{SLUG}/stream"
    phone, neighbour = await board.phone(), await board.phone()
    held = await streams.held([thread_path, event_path], phone, "10.0.0.1")

    refused = await streams.open(thread_path, phone, "10.0.0.1")
    assert refused.status == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "Trop de pages en direct ouvertes" in refused.body.decode()
    await streams.held([event_path], neighbour, "10.0.0.1")

    await held[0].close()
    await streams.held([thread_path], phone, "10.0.0.1")
    assert (await streams.open(event_path, phone, "10.0.0.1")).status == 429

    await held[1].cancel()
    await streams.held([event_path], phone, "10.0.0.1")


async def test_one_address_gets_its_cap_of_streams_then_429_until_one_closes(
    capped: tuple[Board, Streams],
) -> None:
    board, streams = capped
    path = f"/e/{SLUG}/stream"
    held = await streams.held([path] * 4, None, "10.0.0.2")

    refused = await streams.open(path, None, "10.0.0.2")
    assert refused.status == 429
    assert "retry-after" in refused.headers
    assert "Trop de connexions en direct depuis ce réseau" in refused.body.decode()
    assert (await streams.open(path, await board.phone(), "10.0.0.2")).status == 429
    await streams.held([path], None, "10.0.0.3")

    await held[0].close()
    await streams.held([path], None, "10.0.0.2")


async def test_the_moderation_stream_is_capped_per_session_and_per_address(
    capped: tuple[Board, Streams],
) -> None:
    board, streams = capped
    path = f"/mod/{SLUG}/stream"
    moderator, colleague, third = await board.staff(), await board.staff(), await board.staff()
    held = await streams.held([path, path], moderator, "10.0.0.4")
    assert (await streams.open(path, moderator, "10.0.0.4")).status == 429

    await streams.held([path, path], colleague, "10.0.0.4")
    refused = await streams.open(path, third, "10.0.0.4")
    assert refused.status == 429
    assert "Trop de connexions en direct depuis ce réseau" in refused.body.decode()
    await streams.held([path], third, "10.0.0.5")

    await held[0].close()
    await streams.held([path], third, "10.0.0.4")


def test_the_caps_are_read_from_the_environment() -> None:
    env = {"BOARD_SECRET_KEY": "x" * 32}
    assert Settings.from_env(env=env).stream_limit_participant >= 4
    assert Settings.from_env(env=env).stream_limit_address >= 500
    chosen = Settings.from_env(
        env={**env, "BOARD_STREAM_LIMIT_PARTICIPANT": "3", "BOARD_STREAM_LIMIT_ADDRESS": "2000"}
    )
    assert (chosen.stream_limit_participant, chosen.stream_limit_address) == (3, 2000)
    for wrong in ("0", "-1", "many"):
        with pytest.raises(SettingsError, match="BOARD_STREAM_LIMIT_ADDRESS"):
            Settings.from_env(env={**env, "BOARD_STREAM_LIMIT_ADDRESS": wrong})
