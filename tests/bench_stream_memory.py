"""Where an open live stream's memory goes, in process: no server, no client, no network.

Run from the project root:

    uv run python -m tests.bench_stream_memory [--streams 1000] [--redis-url URL] [--top 15] [--frames 1]

It prepares a fresh SQLite file with the demo event in another process (migrations never run in a
serving worker), then prints this process's resident memory after `import board.app`, after
`create_app` and after start-up (the lifespan and its tasks), with Redis unless --redis-url ''.
It opens --streams SSE streams on a thread page's stream URL with the headers a phone's EventSource
sends, as ASGI calls; once every stream has had its first `counts` event (it is subscribed by then)
it prints the resident memory per stream. Then it opens as many again under tracemalloc and prints
the allocation sites that grew, divided by the number of streams (with --frames N, each site with its
N callers), and the object types that grew per stream. The benchmark's own part per stream is a task,
a future and two closures. A served worker adds granian's per-connection state, which
`tests.bench_live fanout` measures with the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


IMPORT_STARTED = rss_mb()
import board.app  # noqa: E402

IMPORTED = rss_mb()

import secrets  # noqa: E402
import tempfile  # noqa: E402
import uuid  # noqa: E402

from litestar import Litestar  # noqa: E402

from board.domain import events  # noqa: E402
from board.domain.context import BoardContext  # noqa: E402
from board.settings import Settings  # noqa: E402
from tests.bench_vote_path import scope  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SLUG = "republique-collaborative"


class OpenStream:
    """One SSE request held open: `ready` once its first `counts` event is sent, ended when `gone` is set
    (one event for every stream, so that the benchmark adds little of its own to each)."""

    __slots__ = ("app", "gone", "path", "ready", "status")

    def __init__(self, app: Any, path: str, gone: asyncio.Event) -> None:
        self.app, self.path, self.gone = app, path, gone
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.status = 0

    async def run(self) -> None:
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
            elif b"event: counts" in message.get("body", b"") and not self.ready.done():
                self.ready.set_result(None)

        try:
            await self.app(scope("GET", self.path, EVENTSOURCE), receive, send)
        finally:
            if not self.ready.done():
                self.ready.set_result(None)


EVENTSOURCE = [
    (b"accept", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"accept-language", b"fr-FR,fr;q=0.9,en;q=0.8"),
    (b"user-agent", b"Mozilla/5.0 (Linux; Android 14) Mobile"),
]
"""The headers a phone's EventSource sends (htmx's SSE extension opens one)."""


async def open_streams(
    app: Litestar, path: str, count: int
) -> tuple[asyncio.Event, list[asyncio.Task[None]]]:
    gone = asyncio.Event()
    streams = [OpenStream(app, path, gone) for _ in range(count)]
    tasks = []
    for index, stream in enumerate(streams):
        tasks.append(asyncio.create_task(stream.run()))
        if index % 100 == 99:
            await asyncio.sleep(0)
    await asyncio.wait_for(asyncio.gather(*(s.ready for s in streams)), 120)
    refused = [s.status for s in streams if s.status != 200]
    if refused:
        raise SystemExit(f"{len(refused)} streams refused, e.g. {refused[0]}")
    del streams
    await asyncio.sleep(0.3)
    return gone, tasks


async def close_streams(gone: asyncio.Event, tasks: list[asyncio.Task[None]]) -> None:
    gone.set()
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
    await asyncio.sleep(0.3)
    gc.collect()


def short(filename: str) -> str:
    return filename.split("site-packages/")[-1].split("lib/python3")[-1].replace(str(ROOT) + "/", "")


def object_types() -> Counter[str]:
    """Live objects by type; coroutines and generators by the function they run, which shows the
    chain of calls each stream keeps suspended."""
    found: Counter[str] = Counter()
    for o in gc.get_objects():
        kind = type(o).__qualname__
        if kind in ("coroutine", "async_generator", "generator"):
            kind = f"{kind} {o.__qualname__}"
        found[kind] += 1
    return found


def prepare(settings: Settings) -> None:
    """Migrations and the demo event, in another process as `board serve` does: Alembic never enters a
    serving worker."""
    env = {
        **os.environ,
        "BOARD_DATABASE_URL": settings.database_url,
        "BOARD_SECRET_KEY": settings.secret_key,
        "BOARD_SEEDS_DIR": str(settings.seeds_dir),
    }
    for command in (["db", "upgrade"], ["seed", str(ROOT / "seeds" / f"{SLUG}.toml")]):
        subprocess.run(
            [sys.executable, "-m", "board.cli", *command], env=env, check=True, capture_output=True
        )


async def thread_path(ctx: BoardContext) -> str:
    """The stream URL of the event's first thread, as its page names it."""
    event = await events.get_event(ctx, SLUG)
    [first, *_] = await events.list_threads(ctx, event.id)
    return f"/e/{SLUG}/t/{first.id}/stream"


async def bench(args: argparse.Namespace) -> None:
    print(f"RSS before import         {IMPORT_STARTED:7.1f} MB")
    print(f"RSS after import board.app {IMPORTED:6.1f} MB  (+{IMPORTED - IMPORT_STARTED:.1f})")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'board.sqlite3'}",
            redis_url=args.redis_url or None,
            redis_prefix=f"bench-streams:{uuid.uuid4().hex[:8]}:",
            secret_key=secrets.token_hex(16),
            public_url="http://127.0.0.1:8000",
            seeds_dir=ROOT / "seeds",
            stream_limit_address=10 * args.streams,
        )
        prepare(settings)
        app = board.app.create_app(settings)
        built = rss_mb()
        print(f"RSS after create_app      {built:7.1f} MB  (+{built - IMPORTED:.1f})")
        ctx: BoardContext = app.state.board
        async with app.lifespan():
            path = await thread_path(ctx)
            await asyncio.sleep(args.settle)
            gc.collect()
            started = rss_mb()
            print(
                f"RSS after start-up        {started:7.1f} MB  (+{started - built:.1f}: lifespan and its tasks)"
            )

            opened_at = time.monotonic()
            gone, tasks = await open_streams(app, path, args.streams)
            gc.collect()
            with_streams = rss_mb()
            per_stream = (with_streams - started) * 1024 / args.streams
            print(
                f"RSS with {args.streams} streams     {with_streams:7.1f} MB  (+{with_streams - started:.1f}: "
                f"{per_stream:.1f} KB per stream; opened in {time.monotonic() - opened_at:.1f} s)"
            )
            await close_streams(gone, tasks)
            print(f"RSS after closing them    {rss_mb():7.1f} MB")

            types_before = object_types()
            tracemalloc.start(args.frames)
            before = tracemalloc.take_snapshot()
            gone, tasks = await open_streams(app, path, args.streams)
            gc.collect()
            after = tracemalloc.take_snapshot()
            types_after = object_types()
            await close_streams(gone, tasks)
            tracemalloc.stop()
        if args.redis_url:
            from redis.asyncio import Redis

            redis = Redis.from_url(args.redis_url)
            keys = [k async for k in redis.scan_iter(match=f"{settings.redis_prefix}*", count=1000)]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()

    n = args.streams
    filters = [tracemalloc.Filter(False, tracemalloc.__file__)]
    grouping = "traceback" if args.frames > 1 else "lineno"
    diff = after.filter_traces(filters).compare_to(before.filter_traces(filters), grouping)
    grown = sum(d.size_diff for d in diff)
    print(f"\ntracemalloc: {grown / n / 1024:.1f} KB of Python allocations per stream; top sites per stream:")
    for stat in sorted(diff, key=lambda d: d.size_diff, reverse=True)[: args.top]:
        where = [f"{short(f.filename)}:{f.lineno}" for f in reversed(stat.traceback)]
        print(f"  {stat.size_diff / n:8.0f} B  {stat.count_diff / n:6.1f} blocks  {where[0]}")
        for caller in where[1:]:
            print(f"  {'':28}{caller}")
    print("\nobjects per stream, by type:")
    grew = Counter({t: types_after[t] - types_before[t] for t in types_after})
    for name, count in grew.most_common(args.top):
        if count > 0:
            print(f"  {count / n:6.2f}  {name}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m tests.bench_stream_memory", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--streams", type=int, default=1000)
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="'' for the in-process live layer")
    p.add_argument("--top", type=int, default=15, help="allocation sites and object types shown")
    p.add_argument(
        "--frames",
        type=int,
        default=1,
        help="frames kept per allocation; above 1, sites are grouped by their callers too",
    )
    p.add_argument("--settle", type=float, default=3.0, help="seconds for the start-up tasks to finish")
    asyncio.run(bench(p.parse_args(argv)))


if __name__ == "__main__":
    main()
