"""Things handlers receive: the board context and the participant behind a request."""

from __future__ import annotations

from typing import Annotated

from litestar import Request
from litestar.datastructures import Cookie
from litestar.params import PathParameter

from board.domain import participants
from board.domain.context import BoardContext
from board.domain.views import EventView, ParticipantView
from board.web.identity import client_address, participant_cookie, read_participant

MAX_ID = 2_147_483_647
Id = Annotated[int, PathParameter(ge=1, le=MAX_ID)]
"""A row id in a path: out of range is refused before it reaches SQL."""


def board_context(request: Request) -> BoardContext:
    ctx: BoardContext = request.app.state.board
    return ctx


async def visitor(
    ctx: BoardContext, request: Request, event: EventView
) -> tuple[ParticipantView, list[Cookie]]:
    """The participant behind the request, created on first visit; the cookie to set, if any."""
    found = read_participant(request, ctx.settings.secret_key, event.slug, event.id)
    participant, created = await participants.join(
        ctx, event, found[1] if found else None, client_address(request, ctx.settings.trusted_proxies)
    )
    if found is not None and not created:
        return participant, []
    secure = ctx.settings.public_url.startswith("https://")
    return participant, [
        participant_cookie(ctx.settings.secret_key, event.slug, event.id, participant.id, secure=secure)
    ]
