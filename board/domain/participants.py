"""Participants: anonymous, one per event and browser, with an optional segment and name."""

from __future__ import annotations

import secrets

from sqlalchemy.exc import IntegrityError
from sqlmodel import update

from board.domain.context import BoardContext
from board.domain.counts import count_participants, publish_participants
from board.domain.errors import Invalid, TooFast
from board.domain.views import EventView, ParticipantView
from board.models import Participant

NAME_MAX = 40


def _view(p: Participant) -> ParticipantView:
    return ParticipantView(p.id, p.event_id, p.segment, p.name, p.banned)


def new_participant_id() -> str:
    return secrets.token_hex(16)


async def find(ctx: BoardContext, event: EventView, participant_id: str | None) -> ParticipantView | None:
    if not participant_id:
        return None
    async with ctx.db.session() as session:
        p = await session.get(Participant, participant_id)
    if p is None or p.event_id != event.id:
        return None
    return _view(p)


async def join(
    ctx: BoardContext, event: EventView, participant_id: str | None, address: str
) -> tuple[ParticipantView, bool]:
    """The participant behind a cookie, or a new one (limited per address, generously)."""
    known = await find(ctx, event, participant_id)
    if known is not None:
        return known, False
    if participant_id is None:
        wait = await ctx.live.limits.retry_after("join", address)
        if wait is not None:
            raise TooFast("Trop de nouvelles connexions depuis ce réseau : réessayez dans un instant.", wait)
        await ctx.live.limits.hit("join", address)
    participant = Participant(id=participant_id or new_participant_id(), event_id=event.id)
    async with ctx.db.writing() as session:
        session.add(participant)
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            existing = await session.get(Participant, participant.id)
            if existing is None:
                raise
            return _view(existing), False
        conn = await session.connection()
        people = await count_participants(conn, event.id)
    await publish_participants(ctx, event.id, people)
    return _view(participant), True


async def set_profile(
    ctx: BoardContext, event: EventView, participant: ParticipantView, segment: str, name: str
) -> ParticipantView:
    segment = segment.strip()
    name = " ".join(name.split())
    if segment and segment not in event.segments:
        raise Invalid(f"Choisissez un profil parmi : {', '.join(event.segments)}.")
    if len(name) > NAME_MAX:
        raise Invalid(f"Le nom affiché doit faire au plus {NAME_MAX} caractères.")
    async with ctx.db.writing() as session:
        conn = await session.connection()
        await conn.execute(
            update(Participant)
            .where(Participant.id == participant.id)  # type: ignore[arg-type]
            .values(segment=segment or None, name=name or None)
        )
        await session.commit()
    return ParticipantView(
        participant.id, participant.event_id, segment or None, name or None, participant.banned
    )
