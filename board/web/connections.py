"""One database connection per request: borrowed at its first query, returned when its response starts."""

from __future__ import annotations

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from board.domain.context import BoardContext

OWN_CONNECTIONS = "own_connections"
"""Route `opt` key of a route whose handler reads nothing itself (the vote: the writer has its own)."""


class OneConnectionPerRequest(ASGIMiddleware):
    """Every read and write of a request shares one pooled connection (one pre-ping on PostgreSQL).

    It goes back to the pool when the response starts, before the body is sent, so a live stream
    holds no connection while it waits.
    """

    scopes = (ScopeType.HTTP,)
    exclude_opt_key = OWN_CONNECTIONS

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        ctx: BoardContext = Litestar.from_scope(scope).state.board
        async with ctx.db.one_connection() as give_back:

            async def send_after_giving_back(message: Message) -> None:
                if message["type"] == "http.response.start":
                    await give_back()
                await send(message)

            await next_app(scope, receive, send_after_giving_back)
