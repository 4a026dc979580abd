"""The server process as an operator sees it: a dead worker is replaced, a slow client is cut off."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from httpx_sse import aconnect_sse

from tests.conftest import CSRF_RE, SLUG, drop_redis_prefix, start_server, stop_server

THREAD_LINK = re.compile(rf'href="/e/{SLUG}/t/(\d+)"')
HEADER_READ_TIMEOUT = 5.0


def workers_of(pid: int) -> set[int]:
    """The server's child processes, read from /proc."""
    children: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children.update(int(c) for c in (task / "children").read_text().split())
        except FileNotFoundError:
            continue
    return children


def listening(pids: set[int], port: int) -> set[int]:
    """Those of the processes that hold a socket listening on the port (each granian worker has its own,
    SO_REUSEPORT): a worker is serving once it has one."""
    sockets: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                sockets.add(f"socket:[{fields[9]}]")
    found: set[int] = set()
    for pid in pids:
        try:
            if any(os.readlink(fd) in sockets for fd in Path(f"/proc/{pid}/fd").iterdir()):
                found.add(pid)
        except OSError:  # gone, or a descriptor closed while read
            continue
    return found


def test_a_killed_worker_is_replaced_and_the_board_keeps_answering(tmp_path: Path) -> None:
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    server = start_server(tmp_path, redis_prefix=prefix, workers=2)
    port = int(server.url.rsplit(":", 1)[1])
    try:
        # Both workers serving first: the server answers as soon as one does, and killing that one while
        # the other is still starting would leave nobody listening for a moment, which is not the case
        # under test. (Deadlines below bound a hang; they are not speed checks.)
        deadline = time.monotonic() + 30
        while (
            len(before := workers_of(server.process.pid)) < 2 or listening(before, port) != before
        ) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(before) == 2 and listening(before, port) == before, before
        victim = min(before)
        os.kill(victim, signal.SIGKILL)

        after: set[int] = set()
        deadline = time.monotonic() + 30
        with httpx.Client(base_url=server.url, timeout=10) as http:
            while time.monotonic() < deadline:
                assert server.process.poll() is None, "the server exited when one worker died"
                after = workers_of(server.process.pid)
                if len(after) == 2 and victim not in after and listening(after, port) == after:
                    break
                time.sleep(0.05)
            assert len(after) == 2 and victim not in after, (before, after)
            assert listening(after, port) == after, "the new worker serves"
            assert (before - {victim}) < after
            for _ in range(10):
                assert http.get("/healthz").status_code == 200
                assert http.get(f"/e/{SLUG}").status_code == 200
            assert server.process.poll() is None
    finally:
        stop_server(server)
        asyncio.run(drop_redis_prefix(prefix))


async def _closed_within(port: int, partial: bytes, within: float) -> float:
    """Seconds until the server closes a connection that sent `partial` and then nothing (inf: not
    within `within`)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    try:
        writer.write(partial)
        await writer.drain()
        try:
            data = await asyncio.wait_for(reader.read(), within)
        except ConnectionResetError:
            data = b""
        except TimeoutError:
            return float("inf")
        assert not data.startswith(b"HTTP/1.1 2"), data
        return time.monotonic() - started
    finally:
        writer.close()


async def _slow_body(body: bytes, pieces: int, seconds: float) -> AsyncIterator[bytes]:
    step = max(1, len(body) // pieces)
    for start in range(0, len(body), step):
        yield body[start : start + step]
        await asyncio.sleep(seconds / pieces)


async def test_a_slow_client_is_cut_off_after_the_header_timeout_but_streams_and_uploads_are_not(
    tmp_path: Path,
) -> None:
    server = start_server(tmp_path)
    port = int(server.url.rsplit(":", 1)[1])
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as phone:
            thread_id = THREAD_LINK.search((await phone.get(f"/e/{SLUG}")).text).group(1)  # type: ignore[union-attr]
            page = await phone.get(f"/e/{SLUG}/t/{thread_id}")
            csrf = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]
            received: list[str] = []
            connected, answered = asyncio.Event(), asyncio.Event()

            async def watch() -> None:
                path = f"/e/{SLUG}/t/{thread_id}/stream"
                async with aconnect_sse(phone, "GET", path, timeout=httpx.Timeout(10, read=None)) as source:
                    async for event in source.aiter_sse():
                        received.append(event.event)
                        connected.set()
                        if event.event == "answer":
                            answered.set()

            watcher = asyncio.create_task(watch())
            await asyncio.wait_for(connected.wait(), 5)

            async def upload() -> httpx.Response:
                body = f"body={'Une réponse envoyée lentement. ' * 8}&_csrf_token={csrf}".encode()
                return await phone.post(
                    f"/e/{SLUG}/t/{thread_id}/answers",
                    content=_slow_body(body, 8, HEADER_READ_TIMEOUT + 2),
                    headers={
                        "content-type": "application/x-www-form-urlencoded",
                        "content-length": str(len(body)),
                    },
                )

            uploading = asyncio.create_task(upload())
            request_line, headers = await asyncio.gather(
                _closed_within(port, b"GET /healthz HTTP/1.1\r\n", HEADER_READ_TIMEOUT + 3),
                _closed_within(
                    port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", HEADER_READ_TIMEOUT + 3
                ),
            )
            assert request_line < HEADER_READ_TIMEOUT + 3 and headers < HEADER_READ_TIMEOUT + 3
            assert (await phone.get("/healthz")).status_code == 200

            posted = await asyncio.wait_for(uploading, 10)
            assert posted.status_code == 303, posted.text
            await asyncio.wait_for(answered.wait(), 5)
            assert not watcher.done()
            watcher.cancel()
    finally:
        stop_server(server)
