"""Running for real: two servers sharing PostgreSQL and Redis, several workers, a prompt shutdown."""

import asyncio
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from httpx_sse import aconnect_sse

from tests.conftest import CSRF_RE, ROOT, SLUG, drop_redis_prefix, postgres_schema, start_server, stop_server


async def test_a_vote_on_one_server_reaches_a_stream_on_the_other(tmp_path: Path) -> None:
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    async with postgres_schema() as schema:
        first = start_server(tmp_path, redis_prefix=prefix, schema=schema)
        second = start_server(tmp_path, redis_prefix=prefix, schema=schema, seed=False)
        try:
            async with (
                httpx.AsyncClient(base_url=first.url) as voter,
                httpx.AsyncClient(base_url=second.url, timeout=httpx.Timeout(10, read=None)) as watcher,
            ):
                page = await voter.get(f"/e/{SLUG}/t/1")
                token = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]
                headers = {"HX-Request": "true", "x-csrftoken": token}
                posted = await voter.post(
                    f"/e/{SLUG}/t/1/answers", data={"body": "Partagée"}, headers=headers
                )
                answer_id = re.search(r'id="a(\d+)"', posted.text).group(1)  # type: ignore[union-attr]
                subscribed, seen = asyncio.Event(), asyncio.Event()

                async def watch() -> None:
                    async with aconnect_sse(watcher, "GET", f"/e/{SLUG}/t/1/stream") as source:
                        async for event in source.aiter_sse():
                            # The stream's first event is sent once its channel is subscribed.
                            subscribed.set()
                            if (
                                event.event == "counts"
                                and f'id="ag{answer_id}" hx-swap-oob="true">1<' in event.data
                            ):
                                seen.set()
                                return

                task = asyncio.create_task(watch())
                try:
                    await asyncio.wait_for(subscribed.wait(), 10)
                    voted = await voter.post(
                        f"/e/{SLUG}/answers/{answer_id}/vote", data={"value": "1"}, headers=headers
                    )
                    assert voted.status_code == 200
                    # A bound on a lost message, not a latency check (bench_live measures latency).
                    await asyncio.wait_for(seen.wait(), 10)
                finally:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
        finally:
            stop_server(first)
            stop_server(second)
            await drop_redis_prefix(prefix)


async def _until_closed(chunks: AsyncIterator[bytes]) -> None:
    """Read a stream until the server closes it, cleanly or not (30 s: a bound on a hang)."""
    async with asyncio.timeout(30):
        try:
            async for _ in chunks:
                pass
        except httpx.RemoteProtocolError:
            pass  # cut short when granian stops the worker that held it


async def test_two_workers_on_redis_and_a_shutdown_with_open_streams(tmp_path: Path) -> None:
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    server = start_server(tmp_path, redis_prefix=prefix, workers=2)
    streams: list[httpx.Response] = []
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=httpx.Timeout(10, read=None)) as client:
            streams = [
                await client.send(client.build_request("GET", f"/e/{SLUG}/t/1/stream"), stream=True)
                for _ in range(4)
            ]
            assert all(s.status_code == 200 for s in streams)
            chunks = [stream.aiter_raw() for stream in streams]
            for chunk in chunks:  # each stream is subscribed and has sent its first event
                assert (await anext(chunk)).startswith(b"event: counts")
            server.process.send_signal(signal.SIGTERM)
            # The server ends the open streams and exits by itself, successfully: nobody kills it. The
            # waits bound a hang (granian stops a worker still holding streams after 3 s).
            await asyncio.gather(*(_until_closed(chunk) for chunk in chunks))
            assert await asyncio.to_thread(server.process.wait, 30) == 0
    finally:
        for stream in streams:
            await stream.aclose()
        if server.process.poll() is None:
            stop_server(server)
        await drop_redis_prefix(prefix)


def test_more_than_one_worker_without_redis_is_refused_plainly(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "BOARD_DATA_DIR": str(tmp_path), "HOME": str(tmp_path)}
    refused = subprocess.run(
        [sys.executable, "-m", "board.cli", "serve", "--demo", "--workers", "2"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert refused.returncode != 0
    assert "BOARD_REDIS_URL" in refused.stderr and "Traceback" not in refused.stderr
