"""Erasing my data takes my votes out of the counts that every open page shows, live."""

from __future__ import annotations

import asyncio
import re

from httpx_sse import ServerSentEvent

from tests.conftest import SLUG, Server
from tests.test_stream import Browser, collect, wait_for


async def test_a_watcher_sees_my_vote_leave_the_counts_when_i_erase(shared_server: Server) -> None:
    author, me, watcher = (Browser(shared_server) for _ in range(3))
    try:
        thread = re.search(rf'href="/e/{SLUG}/t/(\d+)"', (await author.open(f"/e/{SLUG}")).text)
        assert thread
        thread_id = thread.group(1)
        await author.open(f"/e/{SLUG}/t/{thread_id}")
        posted = await author.post(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "À effacer en direct"})
        found = re.search(r'id="a(\d+)"', posted.text)
        assert posted.status_code == 201 and found
        answer_id = found.group(1)
        await me.open(f"/e/{SLUG}/t/{thread_id}")
        assert (await me.post(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "1"})).status_code == 200

        events: list[ServerSentEvent] = []
        ready = asyncio.Event()
        task = asyncio.create_task(collect(watcher, f"/e/{SLUG}/t/{thread_id}/stream", events, ready))
        try:
            await asyncio.wait_for(ready.wait(), 5)
            await me.open(f"/e/{SLUG}/me/erase")
            erased = await me.http.post(f"/e/{SLUG}/me/erase", data={"_csrf_token": me.csrf})
            assert erased.status_code == 303
            await wait_for(
                events,
                lambda e: e.event == "counts" and f'id="ag{answer_id}" hx-swap-oob="true">0<' in e.data,
            )
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        for browser in (author, me, watcher):
            await browser.http.aclose()
