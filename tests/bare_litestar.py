"""The reference for the vote benchmark: a bare Litestar app with nothing but its routes.

`tests.bench_votes` serves it on granian with the same number of workers as the board and loads it
with the same wrk run, so that the vote's throughput reads as a share of what Litestar itself
does on this machine at that moment.
"""

from __future__ import annotations

from litestar import Litestar, MediaType, get, post


@get("/", media_type=MediaType.TEXT, sync_to_thread=False)
def hello() -> str:
    return "ok"


@post("/", media_type=MediaType.TEXT, sync_to_thread=False, status_code=200)
def posted() -> str:
    return "ok"


app = Litestar(route_handlers=[hello, posted])


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
