"""Join codes: six digits typed at /join, unique among open events, so a room can join from the back.

Every open event has one. Codes are given when an event is seeded or opened, and at start-up to any
open event still without one; a code is looked up among open events only, so a closed event's old code
may be given again.
"""

from __future__ import annotations

import re
import secrets

from sqlalchemy import bindparam, update
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from board.domain.context import BoardContext
from board.domain.errors import NotFound
from board.models import Event, EventStatus

CODE_DIGITS = 6
CODE = re.compile(r"[0-9]{6}")
UNKNOWN = "Aucun événement ne porte ce code."
_EVENTS = Event.__table__  # type: ignore[attr-defined]
_OPEN_BY_CODE = sa_select(_EVENTS.c.slug).where(
    _EVENTS.c.code == bindparam("code"), _EVENTS.c.status == EventStatus.OPEN
)


def normalise(typed: str) -> str | None:
    """The six digits of what was typed (`123 456`, `123-456` and `123456` alike), or None."""
    if len(typed) > 40:
        return None
    digits = re.sub(r"[\s.\-]", "", typed)
    return digits if CODE.fullmatch(digits) else None


def _fresh(taken: set[str]) -> str:
    while True:
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        if code not in taken:
            return code


async def give_code(session: AsyncSession, event_id: int) -> str | None:
    """Within the caller's write transaction: the open event's code, given now if it has none or if
    another open event holds the same one (an event reopened after its code was given again).

    The open events' rows are locked first, in id order, so that two transactions giving codes at once
    (two workers starting, two events opened) cannot pick the same one: the second waits and then sees
    the first's code. Returns None for an event that is not open.
    """
    rows = list(
        await session.exec(
            select(Event.id, Event.code, Event.status)
            .where((Event.status == EventStatus.OPEN) | (Event.id == event_id))
            .order_by(col(Event.id))
            .with_for_update()
        )
    )
    mine = next((r for r in rows if r[0] == event_id), None)
    if mine is None or mine[2] != EventStatus.OPEN:
        return None
    others = {code for id_, code, status in rows if id_ != event_id and code and status == EventStatus.OPEN}
    if mine[1] and mine[1] not in others:
        return str(mine[1])
    code = _fresh(others)
    await session.exec(update(Event).where(col(Event.id) == event_id).values(code=code))
    return code


async def give_missing_codes(ctx: BoardContext) -> int:
    """At start-up: a code for every open event without one (or sharing one); how many were given."""
    async with ctx.db.connect() as conn:
        rows = (
            await conn.execute(
                sa_select(_EVENTS.c.id, _EVENTS.c.code).where(_EVENTS.c.status == EventStatus.OPEN)
            )
        ).all()
    seen: set[str] = set()
    needed = []
    for id_, code in rows:
        if not code or code in seen:
            needed.append(id_)
        else:
            seen.add(code)
    for event_id in needed:
        async with ctx.db.writing() as session:
            await give_code(session, event_id)
            await session.commit()
    return len(needed)


async def slug_for_code(ctx: BoardContext, typed: str) -> str:
    """The open event a typed code belongs to; NotFound for anything else."""
    code = normalise(typed)
    if code is None:
        raise NotFound(UNKNOWN)
    async with ctx.db.connect() as conn:
        slug = (await conn.execute(_OPEN_BY_CODE, {"code": code})).scalar()
    if slug is None:
        raise NotFound(UNKNOWN)
    return str(slug)
