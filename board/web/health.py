"""Liveness and readiness probes."""

from __future__ import annotations

from litestar import Request, get
from litestar.response import Response
from sqlalchemy import text

from board.web.deps import Ctx


@get(
    "/healthz",
    name="healthz",
    include_in_schema=False,
    media_type="text/plain",
    opt={"exclude_from_csrf": True},
)
async def healthz() -> str:
    return "ok"


@get("/readyz", name="readyz", media_type="text/plain", summary="Database and Redis reachable")
async def readyz(request: Request, ctx: Ctx) -> Response[str]:
    """Ready once the database and Redis answer and, with Redis, live updates are subscribed again.

    Redis is pinged for real, whatever the breaker says, so readiness returns as soon as Redis does.
    """
    problems = []
    try:
        async with ctx.db.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        problems.append("database unreachable")
    if not await ctx.live.counters.ping():
        problems.append("redis unreachable")
    elif ctx.live.pubsub is not None and not ctx.live.pubsub.listening:
        problems.append("live updates resuming")
    if problems:
        return Response("; ".join(problems), status_code=503, media_type="text/plain")
    return Response("ready", media_type="text/plain")
