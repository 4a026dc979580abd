"""The reference for the benchmarks: a bare Litestar app with nothing but its routes.

`tests.bench_votes` serves it on granian with the same number of workers as the board and loads it
with the same wrk run, so that the vote's throughput reads as a share of what Litestar itself
does on this machine at that moment. `tests.bench_live fanout` opens as many streams on it as on
the board, to weigh what a worker holding them costs before any of the board's own code: with
`BARE_LIBRARIES=1` in its environment, it also imports the libraries the board serves with.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import AsyncIterator

from litestar import Litestar, MediaType, get, post
from litestar.response import ServerSentEvent

LIBRARIES = (
    "sqlalchemy.ext.asyncio",
    "sqlmodel",
    "aiosqlite",
    "asyncpg",
    "redis.asyncio",
    "jinja2",
    "limits.aio",
)
"""What the board imports to serve, beside Litestar and granian."""

if os.environ.get("BARE_LIBRARIES") == "1":
    for name in LIBRARIES:
        importlib.import_module(name)


@get("/", media_type=MediaType.TEXT, sync_to_thread=False)
def hello() -> str:
    return "ok"


@post("/", media_type=MediaType.TEXT, sync_to_thread=False, status_code=200)
def posted() -> str:
    return "ok"


@get("/e/{slug:str}/t/{thread_id:int}/stream", sync_to_thread=False)
def stream(slug: str, thread_id: int) -> ServerSentEvent:
    """A thread's stream as the board's begins: one `counts` event, then nothing until the client leaves."""

    async def events() -> AsyncIterator[str]:
        yield f"{slug} {thread_id}"
        await asyncio.Event().wait()

    return ServerSentEvent(events(), event_type="counts")


app = Litestar(route_handlers=[hello, posted, stream])


def serve(port: int, workers: int) -> None:
    """Served as `board serve` serves the board: granian, ASGI, the same backlog and backpressure."""
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        "tests.bare_litestar:app",
        address="127.0.0.1",
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        backlog=4096,
        backpressure=4096,
        log_access=False,
    ).serve()


if __name__ == "__main__":
    import sys

    serve(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 1)
