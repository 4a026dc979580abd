"""Participants: anonymous, one per event and browser, with an optional segment and name."""

from __future__ import annotations

import secrets

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection
from sqlmodel import col, update

from board.domain.answers import has_visible
from board.domain.context import BoardContext
from board.domain.counts import publish_participants
from board.domain.errors import Invalid, TooFast
from board.domain.lifecycle import CLOSED_TO_PROFILES, check_open
from board.domain.newcomers import enter, forgotten
from board.domain.views import EventView, ParticipantView
from board.live.channels import event_channel
from board.live.counters import Headcount
from board.live.messages import Counts
from board.models import Participant

NAME_MAX = 40
BIDI_CONTROLS = dict.fromkeys(
    map(ord, "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)


def clean_name(name: str) -> str:
    """A display name sits beside other people's text: a direction override or isolate would reorder
    what follows it, so those are removed; NUL cannot be stored on PostgreSQL, so it is refused."""
    if "\x00" in name:
        raise Invalid("Le nom affiché contient un caractère nul (U+0000) : retirez-le puis réessayez.")
    text = " ".join(name.translate(BIDI_CONTROLS).split())
    return text if has_visible(text) else ""


def _store_profile(
    conn: Connection, event_id: int, participant_id: str, segment: str | None, name: str | None
) -> Headcount | None:
    people = enter(conn, event_id, participant_id)
    conn.execute(
        update(Participant).where(col(Participant.id) == participant_id).values(segment=segment, name=name)
    )
    return people


def new_participant_id() -> str:
    return secrets.token_hex(16)


_BY_ID = sa_select(
    col(Participant.id),
    col(Participant.event_id),
    col(Participant.segment),
    col(Participant.name),
    col(Participant.banned),
).where(col(Participant.id) == bindparam("id"))


async def find(ctx: BoardContext, event: EventView, participant_id: str | None) -> ParticipantView | None:
    if not participant_id:
        return None
    async with ctx.db.connect() as conn:
        row = (await conn.execute(_BY_ID, {"id": participant_id})).first()
    if row is None or row.event_id != event.id:
        return None
    return ParticipantView(row.id, row.event_id, row.segment, row.name, row.banned)


async def visit(
    ctx: BoardContext, event: EventView, participant_id: str | None
) -> tuple[ParticipantView, str | None]:
    """Who is looking at a page, and a new id to give them if they have none (or an erased one).

    Read only: a visit writes nothing, so the row comes with the person's first action.
    """
    known = await find(ctx, event, participant_id)
    if known is not None:
        return known, None
    if participant_id and not await _is_forgotten(ctx, participant_id):
        return _newcomer(event, participant_id), None
    fresh = new_participant_id()
    return _newcomer(event, fresh), fresh


def _newcomer(event: EventView, participant_id: str) -> ParticipantView:
    return ParticipantView(participant_id, event.id, None, None, False)


async def acting(
    ctx: BoardContext, event: EventView, participant_id: str | None, address: str
) -> tuple[ParticipantView, str | None]:
    """The participant about to answer or set a profile, and a new id if they need one.

    Nothing is written here: the row comes with the action; someone new counts against the
    address's limit of newcomers.
    """
    known = await find(ctx, event, participant_id)
    if known is not None:
        return known, None
    await _welcome(ctx, address)
    if participant_id and not await _is_forgotten(ctx, participant_id):
        return _newcomer(event, participant_id), None
    fresh = new_participant_id()
    return _newcomer(event, fresh), fresh


async def _is_forgotten(ctx: BoardContext, participant_id: str) -> bool:
    async with ctx.db.connect() as conn:
        return bool(await conn.run_sync(forgotten, [participant_id]))


async def _welcome(ctx: BoardContext, address: str) -> None:
    if not await ctx.live.limits.hit("join", address):
        wait = await ctx.live.limits.retry_after("join", address) or 60
        raise TooFast("Trop de nouvelles connexions depuis ce réseau : réessayez dans un instant.", wait)


async def announce_people(ctx: BoardContext, event: EventView, people: Headcount | None) -> None:
    """After a commit that added someone: the event's participant count, live."""
    if people is not None:
        ctx.live.channels.send(
            Counts(None, participants=people.count, event_id=event.id), [event_channel(event.slug)]
        )


async def set_profile(
    ctx: BoardContext, event: EventView, participant: ParticipantView, segment: str, name: str
) -> ParticipantView:
    check_open(event, CLOSED_TO_PROFILES)
    segment = segment.strip()
    name = clean_name(name)
    if segment and segment not in event.segments:
        raise Invalid("Choisissez un profil parmi : {choices}.", choices=", ".join(event.segments))
    if len(name) > NAME_MAX:
        raise Invalid("Le nom affiché doit faire au plus {most} caractères.", most=NAME_MAX)
    async with ctx.db.write_steps() as step:
        people = await step(_store_profile, event.id, participant.id, segment or None, name or None)
        if people is not None:
            await publish_participants(ctx, event.id, people)
    await announce_people(ctx, event, people)
    return ParticipantView(
        participant.id, participant.event_id, segment or None, name or None, participant.banned
    )
