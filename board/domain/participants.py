"""Participants: anonymous, one per event and browser, with an optional segment and name."""

from __future__ import annotations

import secrets

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import col, update

from board.domain.answers import has_visible
from board.domain.context import BoardContext
from board.domain.counts import publish_participants
from board.domain.errors import Invalid, TooFast
from board.domain.lifecycle import CLOSED_TO_PROFILES, check_open
from board.domain.tally import count_event_participants, lock_event
from board.domain.views import EventView, ParticipantView
from board.live.channels import event_channel
from board.live.messages import Counts
from board.models import Participant, utcnow

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


_INSERTS = {
    "sqlite": sqlite.insert(Participant).on_conflict_do_nothing(),
    "postgresql": postgresql.insert(Participant).on_conflict_do_nothing(),
}


def insert_new(conn: Connection, rows: list[dict[str, object]]) -> int:
    """Insert participants (id, event_id, banned, created_at), skipping ids already taken; how many were new."""
    return conn.execute(_INSERTS[conn.dialect.name], rows).rowcount


def _add(conn: Connection, participant_id: str, event_id: int) -> int | None:
    """Add one participant; the event's participants after it, or None if the id was taken.

    The event is held until the commit (on PostgreSQL), so that two workers' joins are counted in
    turn and the count written to the live counters before the commit is never an older one.
    """
    lock_event(conn, event_id)
    row = {"id": participant_id, "event_id": event_id, "banned": False, "created_at": utcnow()}
    if not insert_new(conn, [row]):
        return None
    return count_event_participants(conn, event_id)


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


async def join(
    ctx: BoardContext, event: EventView, participant_id: str | None, address: str
) -> tuple[ParticipantView, bool]:
    """The participant behind a cookie, or a new one (limited per address, generously)."""
    known = await find(ctx, event, participant_id)
    if known is not None:
        return known, False
    if participant_id is None and not await ctx.live.limits.hit("join", address):
        wait = await ctx.live.limits.retry_after("join", address) or 60
        raise TooFast("Trop de nouvelles connexions depuis ce réseau : réessayez dans un instant.", wait)
    participant = ParticipantView(participant_id or new_participant_id(), event.id, None, None, False)
    async with ctx.db.write_steps() as step:
        people = await step(_add, participant.id, event.id)
        if people is not None:
            await publish_participants(ctx, event.id, people)
    if people is None:
        existing = await find(ctx, event, participant.id)
        if existing is None:
            raise RuntimeError("a participant id signed for this event belongs to another event")
        return existing, False
    ctx.live.channels.send(Counts(None, participants=people, event_id=event.id), [event_channel(event.slug)])
    return participant, True


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
