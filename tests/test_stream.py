"""Live updates over server-sent events, through the real server (one shared by the session's tests:
each test follows an answer of its own)."""

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from httpx_sse import ServerSentEvent, aconnect_sse

from tests.conftest import CSRF_RE, SLUG, Server

THREAD_LINK = re.compile(rf'href="/e/{SLUG}/t/(\d+)"')


class Browser:
    def __init__(self, server: Server) -> None:
        self.http = httpx.AsyncClient(base_url=server.url, timeout=10)
        self.csrf = ""

    async def open(self, path: str) -> httpx.Response:
        response = await self.http.get(path)
        if found := CSRF_RE.search(response.text):
            self.csrf = found.group(1)
        return response

    async def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        return await self.http.post(path, data=data, headers={"HX-Request": "true", "x-csrftoken": self.csrf})


async def collect(browser: Browser, path: str, into: list[ServerSentEvent], ready: asyncio.Event) -> None:
    async with aconnect_sse(browser.http, "GET", path, timeout=httpx.Timeout(10, read=None)) as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        async for event in source.aiter_sse():
            into.append(event)
            ready.set()


async def wait_for(events: list[ServerSentEvent], predicate: object, within: float = 10.0) -> ServerSentEvent:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        for event in events:
            if predicate(event):  # type: ignore[operator]
                return event
        await asyncio.sleep(0.02)
    raise AssertionError(f"no matching event among {[(e.event, e.data[:80]) for e in events]}")


@pytest.fixture
async def browsers(shared_server: Server) -> AsyncIterator[list[Browser]]:
    made = [Browser(shared_server) for _ in range(3)]
    yield made
    for browser in made:
        await browser.http.aclose()


async def run_two_watchers(browsers: list[Browser]) -> None:
    author, first, second = browsers
    thread_id = THREAD_LINK.search((await author.open(f"/e/{SLUG}")).text).group(1)  # type: ignore[union-attr]
    await author.open(f"/e/{SLUG}/t/{thread_id}")
    streams: list[list[ServerSentEvent]] = [[], []]
    ready = [asyncio.Event(), asyncio.Event()]
    tasks = [
        asyncio.create_task(collect(b, f"/e/{SLUG}/t/{thread_id}/stream", streams[i], ready[i]))
        for i, b in enumerate((first, second))
    ]
    try:
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 5)
        posted = await author.post(
            f"/e/{SLUG}/t/{thread_id}/answers", {"body": "Expérimenter, c'est <évaluer>"}
        )
        assert posted.status_code == 201
        answer_id = re.search(r'id="a(\d+)"', posted.text).group(1)  # type: ignore[union-attr]
        for events in streams:
            answer = await wait_for(events, lambda e: e.event == "answer" and f'id="a{answer_id}"' in e.data)
            assert "c&#39;est &lt;évaluer&gt;" in answer.data

        await first.open(f"/e/{SLUG}/t/{thread_id}")
        voted = await first.post(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "1"})
        assert voted.status_code == 200
        for events in streams:
            await wait_for(
                events,
                lambda e: e.event == "counts" and f'id="ag{answer_id}" hx-swap-oob="true">1<' in e.data,
            )
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_two_watchers_see_a_new_answer_and_its_votes(browsers: list[Browser]) -> None:
    await run_two_watchers(browsers)


async def test_the_same_over_redis(shared_redis_server: Server) -> None:
    made = [Browser(shared_redis_server) for _ in range(3)]
    try:
        await run_two_watchers(made)
    finally:
        for browser in made:
            await browser.http.aclose()


async def test_stream_of_an_unknown_thread_is_404(shared_server: Server) -> None:
    async with httpx.AsyncClient(base_url=shared_server.url) as client:
        assert (await client.get(f"/e/{SLUG}/t/9999/stream")).status_code == 404
        assert (await client.get("/e/nope/t/1/stream")).status_code == 404
