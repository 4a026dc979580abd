"""Retention: an event closed longer than its retention period forgets who said and voted what.

Published texts, every count (per answer, per segment, per thread, participants) and the public
record stay exactly as they were: the per-segment counts and the number of participants are
stored as aggregates before anyone is unlinked, and so are the opinion groups (their public payload,
computed from the votes just before, without anyone's id). Rate-limit traces are keyed by participant or
address in the live layer and expire with their window (a minute), so none outlive the event.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlmodel import col

from board.domain import opinion_groups
from board.domain.context import BoardContext
from board.domain.errors import NotFound
from board.domain.privacy import forget, lock_answers_of_threads, unlinked
from board.domain.tally import count_answers, count_event_participants, lock_event
from board.models import (
    Answer,
    AuditEntry,
    Event,
    EventStatus,
    Participant,
    RetainedOpinions,
    RetainedTally,
    Retention,
    Thread,
    Vote,
)

log = logging.getLogger(__name__)

RUN_EVERY = 24 * 60 * 60.0
ENDED = (EventStatus.CLOSED, EventStatus.ARCHIVED)


@dataclass(frozen=True)
class Applied:
    slug: str
    participants: int


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_due(status: str, closed_at: datetime | None, retention_days: int, now: datetime) -> bool:
    """Times, not calendar days: with 0 days an event is due as soon as it is closed."""
    if status not in ENDED or closed_at is None:
        return False
    return _aware(closed_at) + timedelta(days=max(retention_days, 0)) <= now


def _unlink(conn: Connection, event_id: int, frozen: dict[int, bytes]) -> int | None:
    """Store the aggregates, then unlink every answer and vote of the event; its participants, or
    None if it was done already. Locks are taken as the vote writer takes them: answers, then the event."""
    found = conn.execute(select(col(Thread.id)).where(col(Thread.event_id) == event_id)).scalars()
    threads = [t for t in found if t is not None]
    lock_answers_of_threads(conn, threads)
    lock_event(conn, event_id)
    if conn.execute(select(col(Retention.event_id)).where(col(Retention.event_id) == event_id)).first():
        return None
    answer_ids = [
        a
        for a in conn.execute(
            select(col(Answer.id)).where(col(Answer.thread_id).in_(threads)).order_by(col(Answer.id))
        ).scalars()
        if a is not None
    ]
    tallies = []
    for answer_id, counts in count_answers(conn, answer_ids).items():
        rest = [counts.agree, counts.disagree]
        for segment, (agree, disagree) in counts.segments.items():
            tallies.append({"answer_id": answer_id, "segment": segment, "agree": agree, "disagree": disagree})
            rest = [rest[0] - agree, rest[1] - disagree]
        if rest != [0, 0]:
            tallies.append({"answer_id": answer_id, "segment": "", "agree": rest[0], "disagree": rest[1]})
    if tallies:
        conn.execute(delete(RetainedTally).where(col(RetainedTally.answer_id).in_(answer_ids)))
        conn.execute(insert(RetainedTally), tallies)
    people = count_event_participants(conn, event_id)
    kept = [{"thread_id": t, "payload": p.decode()} for t, p in frozen.items() if t in threads]
    if kept:
        conn.execute(delete(RetainedOpinions).where(col(RetainedOpinions.thread_id).in_(threads)))
        conn.execute(insert(RetainedOpinions), kept)
    placeholder = unlinked(conn, event_id)
    if answer_ids:
        conn.execute(delete(Vote).where(col(Vote.answer_id).in_(answer_ids)))
        conn.execute(update(Answer).where(col(Answer.id).in_(answer_ids)).values(participant_id=placeholder))
    gone = list(
        conn.execute(
            select(col(Participant.id)).where(
                col(Participant.event_id) == event_id, col(Participant.id) != placeholder
            )
        ).scalars()
    )
    if gone:
        conn.execute(delete(Vote).where(col(Vote.participant_id).in_(gone)))
        forget(conn, event_id, gone)
        conn.execute(delete(Participant).where(col(Participant.id).in_(gone)))
    conn.execute(
        update(AuditEntry)
        .where(col(AuditEntry.event_id) == event_id, col(AuditEntry.target).like("participant %"))
        .values(target="participant")
    )
    conn.execute(insert(Retention).values(event_id=event_id, participants=people))
    return people


async def apply(ctx: BoardContext, slug: str | None = None, now: datetime | None = None) -> list[Applied]:
    """Unlink every event that is due (or only `slug`); the events done this time."""
    moment = now or datetime.now(UTC)
    query = select(
        col(Event.id), col(Event.slug), col(Event.status), col(Event.closed_at), col(Event.retention_days)
    ).where(~col(Event.id).in_(select(col(Retention.event_id))))
    if slug is not None:
        query = query.where(col(Event.slug) == slug)
    async with ctx.db.connect() as conn:
        rows = (await conn.execute(query.order_by(col(Event.id)))).all()
    if slug is not None and not rows:
        async with ctx.db.connect() as conn:
            known = (await conn.execute(select(col(Event.id)).where(col(Event.slug) == slug))).first()
        if known is None:
            raise NotFound("Cet événement n'existe pas.")
    done = []
    for row in rows:
        if not is_due(row.status, row.closed_at, row.retention_days, moment):
            continue
        frozen = await opinion_groups.freeze(ctx, row.id)
        async with ctx.db.write_steps() as step:
            people = await step(_unlink, row.id, frozen)
        if people is not None:
            await opinion_groups.forget_members(ctx, frozen)
            done.append(Applied(row.slug, people))
    return done


async def daily(ctx: BoardContext) -> None:
    """The server's own run: at start-up, then once a day."""
    while True:
        try:
            for applied in await apply(ctx):
                log.info(
                    "retention applied to %s (%d participants unlinked)", applied.slug, applied.participants
                )
        except Exception:
            log.exception("retention run failed")
        await asyncio.sleep(RUN_EVERY)
