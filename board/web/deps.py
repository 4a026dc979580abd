"""Things handlers receive: the board context and the participant behind a request."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from litestar import Request
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import PathParameter

from board.domain import participants
from board.domain.context import BoardContext
from board.domain.errors import Invalid
from board.domain.opinion_groups import OpinionGroups
from board.domain.views import EventView, ParticipantView
from board.domain.votes import VoteWriter
from board.web.identity import client_address, participant_cookie, read_participant

Ctx = NamedDependency[BoardContext]
"""The board context, provided by the app to any handler that names a `ctx` parameter."""
Votes = NamedDependency[VoteWriter]
"""The process's vote writer, provided to any handler that names a `votes` parameter."""

Opinions = NamedDependency[OpinionGroups]
"""The process's opinion groups (cache reads, recomputation off the event loop), for an `opinions` parameter."""

MAX_ID = 2_147_483_647
Id = Annotated[int, PathParameter(ge=1, le=MAX_ID)]
"""A row id in a path: out of range is refused before it reaches SQL."""


async def read_form(request: Request) -> dict[str, str]:
    """The posted fields, the first value of each.

    URL-encoded bodies are read as UTF-8 whether or not the client percent-encoded its letters
    (browsers do, scripts often do not), so « é » stays « é ».
    """
    if request.content_type[0] != "application/x-www-form-urlencoded":
        return {key: str(value) for key, value in (await request.form()).items()}
    return form_fields(await request.body())


def form_fields(body: bytes) -> dict[str, str]:
    """A URL-encoded body's fields, the first value of each, its letters read as UTF-8."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("Le formulaire doit être encodé en UTF-8.") from None
    fields: dict[str, str] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        fields.setdefault(key, value)
    return fields


async def visitor(
    ctx: BoardContext, request: Request, event: EventView
) -> tuple[ParticipantView, list[Cookie]]:
    """Who is looking at a page, and the cookie to set for someone new: a visit stores nothing."""
    found = read_participant(request, ctx.settings.secret_key, event.slug, event.id)
    participant, fresh = await participants.visit(ctx, event, found[1] if found else None)
    return participant, [new_cookie(ctx, event, fresh)] if fresh else []


async def actor(
    ctx: BoardContext, request: Request, event: EventView
) -> tuple[ParticipantView, list[Cookie]]:
    """Who is about to act (answer, profile); the row itself is written by the action."""
    found = read_participant(request, ctx.settings.secret_key, event.slug, event.id)
    participant, fresh = await participants.acting(
        ctx, event, found[1] if found else None, client_address(request, ctx.settings.trusted_proxies)
    )
    return participant, [new_cookie(ctx, event, fresh)] if fresh else []


def minted(ctx: BoardContext, event: EventView) -> tuple[str, list[Cookie]]:
    """A new participant id for a first vote, and its cookie; the vote writer inserts the row."""
    participant_id = participants.new_participant_id()
    return participant_id, [new_cookie(ctx, event, participant_id)]


def new_cookie(ctx: BoardContext, event: EventView, participant_id: str) -> Cookie:
    secure = ctx.settings.public_url.startswith("https://")
    return participant_cookie(ctx.settings.secret_key, event.slug, event.id, participant_id, secure=secure)
