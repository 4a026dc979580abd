"""A participant's own data: what the board holds about them, and erasing it.

Erasing takes the votes out of the counts at once, and the profile and the link to the answers
away (or the answers themselves); the audit log keeps that an erasure happened, not what.
Erasure never touches the public record: a deleted answer's text simply stops being served.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import col

from board.domain.context import BoardContext
from board.domain.counts import publish_participants, store_threads
from board.domain.newcomers import id_sha256, insert_new
from board.domain.tally import count_locked_participants, lock_event, recount_and_store, unlinked_id
from board.domain.views import EventView
from board.live.channels import event_channel, mod_channel, thread_channel
from board.live.counters import Headcount, ThreadCounts
from board.live.messages import Counts, Status
from board.models import (
    Answer,
    AuditEntry,
    Event,
    ForgottenParticipant,
    Participant,
    RetainedTally,
    Thread,
    Vote,
    utcnow,
)


@dataclass(frozen=True)
class MyAnswer:
    id: int
    thread: int
    prompt: str
    body: str
    status: str
    reason: str | None
    merged_into: int | None
    created_at: datetime


@dataclass(frozen=True)
class MyVote:
    answer: int
    body: str
    value: int
    updated_at: datetime


@dataclass(frozen=True)
class MyData:
    """Everything the board holds that is linked to one participant of one event."""

    event: str
    participant: str
    segment: str | None
    name: str | None
    banned: bool
    created_at: datetime
    answers: list[MyAnswer]
    votes: list[MyVote]

    def as_json(self) -> str:
        """UTF-8 JSON, letters as they are (no \\u escapes), times in ISO 8601."""

        def plain(value: Any) -> Any:
            return value.isoformat() if isinstance(value, datetime) else value

        data = asdict(self)
        data["created_at"] = plain(self.created_at)
        for key in ("answers", "votes"):
            data[key] = [{k: plain(v) for k, v in item.items()} for item in data[key]]
        return json.dumps(data, ensure_ascii=False, indent=2)


_PERSON = select(
    col(Participant.event_id),
    col(Participant.segment),
    col(Participant.name),
    col(Participant.banned),
    col(Participant.created_at),
).where(col(Participant.id) == bindparam("p"))
_ANSWERS = (
    select(
        col(Answer.id),
        col(Answer.thread_id),
        col(Thread.prompt),
        col(Answer.body),
        col(Answer.status),
        col(Answer.reason),
        col(Answer.merged_into),
        col(Answer.created_at),
    )
    .join(Thread, col(Thread.id) == col(Answer.thread_id))
    .where(col(Answer.participant_id) == bindparam("p"))
    .order_by(col(Answer.created_at), col(Answer.id))
)
_VOTES = (
    select(col(Vote.answer_id), col(Answer.body), col(Vote.value), col(Vote.updated_at))
    .join(Answer, col(Answer.id) == col(Vote.answer_id))
    .where(col(Vote.participant_id) == bindparam("p"))
    .order_by(col(Vote.updated_at), col(Vote.answer_id))
)


async def my_data(ctx: BoardContext, event: EventView, participant_id: str | None) -> MyData | None:
    """None when nothing is stored for this person (they have not acted, or were erased)."""
    if not participant_id or participant_id == unlinked_id(event.id):
        return None
    async with ctx.db.connect() as conn:
        person = (await conn.execute(_PERSON, {"p": participant_id})).first()
        if person is None or person.event_id != event.id:
            return None
        answers = [MyAnswer(*row) for row in await conn.execute(_ANSWERS, {"p": participant_id})]  # type: ignore[arg-type]
        votes = [MyVote(*row) for row in await conn.execute(_VOTES, {"p": participant_id})]
    return MyData(
        event.slug,
        participant_id,
        person.segment,
        person.name,
        person.banned,
        person.created_at,
        answers,
        votes,
    )


_FORGET = {
    "sqlite": sqlite.insert(ForgottenParticipant).on_conflict_do_nothing(),
    "postgresql": postgresql.insert(ForgottenParticipant).on_conflict_do_nothing(),
}


def forget(conn: Connection, event_id: int, participant_ids: list[str]) -> None:
    """Remember only the ids' hashes, so that their cookies never bring them back."""
    if participant_ids:
        conn.execute(
            _FORGET[conn.dialect.name],
            [{"id_sha256": id_sha256(p), "event_id": event_id} for p in participant_ids],
        )


def unlinked(conn: Connection, event_id: int) -> str:
    """The event's row that answers point to once their authors are gone; not a person, never counted."""
    placeholder = unlinked_id(event_id)
    insert_new(conn, [{"id": placeholder, "event_id": event_id, "banned": True, "created_at": utcnow()}])
    return placeholder


def lock_answers_of_threads(conn: Connection, thread_ids: list[int]) -> None:
    """Hold the threads' answers in id order (PostgreSQL), as the vote writer does, before votes move."""
    if thread_ids and conn.dialect.name == "postgresql":
        conn.execute(
            select(col(Answer.id))
            .where(col(Answer.thread_id).in_(thread_ids))
            .order_by(col(Answer.id))
            .with_for_update()
        )


@dataclass(frozen=True)
class Erased:
    threads: dict[int, ThreadCounts]
    answers: dict[int, dict[int, tuple[int, int]]]
    """Per thread, the new (agree, disagree) of each answer the person had voted on."""
    removed_answers: bool
    people: Headcount


def _erase(conn: Connection, event_id: int, participant_id: str, with_answers: bool) -> Erased | None:
    owner = conn.execute(
        select(col(Participant.event_id))
        .where(col(Participant.id) == participant_id)
        .with_for_update(key_share=True)
    ).scalar()
    if owner != event_id or participant_id == unlinked_id(event_id):
        return None
    mine = [
        (a, t)
        for a, t in conn.execute(
            select(col(Answer.id), col(Answer.thread_id)).where(col(Answer.participant_id) == participant_id)
        )
    ]
    voted = list(
        conn.execute(
            select(col(Answer.id), col(Answer.thread_id))
            .join(Vote, col(Vote.answer_id) == col(Answer.id))
            .where(col(Vote.participant_id) == participant_id)
        )
    )
    threads = sorted({t for _, t in mine} | {t for _, t in voted})
    lock_answers_of_threads(conn, threads)
    removed = list(
        conn.execute(
            delete(Vote).where(col(Vote.participant_id) == participant_id).returning(col(Vote.answer_id))
        ).scalars()
    )
    late = set(removed) - {a for a, _ in voted}
    if late:
        voted += list(
            conn.execute(select(col(Answer.id), col(Answer.thread_id)).where(col(Answer.id).in_(late)))
        )
        threads = sorted(set(threads) | {t for _, t in voted})
    answer_ids = [a for a, _ in mine]
    if with_answers and answer_ids:
        conn.execute(delete(Vote).where(col(Vote.answer_id).in_(answer_ids)))
        conn.execute(update(Answer).where(col(Answer.merged_into).in_(answer_ids)).values(merged_into=None))
        conn.execute(delete(RetainedTally).where(col(RetainedTally.answer_id).in_(answer_ids)))
        conn.execute(delete(Answer).where(col(Answer.id).in_(answer_ids)))
    conn.execute(
        update(Answer)
        .where(col(Answer.participant_id) == participant_id)
        .values(participant_id=unlinked(conn, event_id))
    )
    conn.execute(delete(Participant).where(col(Participant.id) == participant_id))
    forget(conn, event_id, [participant_id])
    conn.execute(
        insert(AuditEntry).values(
            event_id=event_id,
            account_id=None,
            actor="participant",
            action="erase",
            target="answers" if with_answers else "",
            reason=None,
            created_at=utcnow(),
        )
    )
    totals = recount_and_store(conn, threads) if threads else {}
    moved: dict[int, dict[int, tuple[int, int]]] = {}
    if voted:
        for answer_id, thread_id, agree, disagree in conn.execute(
            select(col(Answer.id), col(Answer.thread_id), col(Answer.agree), col(Answer.disagree)).where(
                col(Answer.id).in_([a for a, _ in voted])
            )
        ):
            if answer_id is not None:
                moved.setdefault(thread_id, {})[answer_id] = (agree, disagree)
    lock_event(conn, event_id)
    return Erased(totals, moved, with_answers and bool(mine), count_locked_participants(conn, event_id))


async def erase(ctx: BoardContext, event: EventView, participant_id: str, *, with_answers: bool) -> bool:
    """Erase a participant of the event; False if nothing was stored for them. Counts follow live."""
    async with ctx.db.write_steps() as step:
        done = await step(_erase, event.id, participant_id, with_answers)
        if done is not None:
            await store_threads(ctx, done.threads)
            await publish_participants(ctx, event.id, done.people)
    if done is None:
        return False
    for thread_id, counts in done.threads.items():
        channels = [thread_channel(thread_id), event_channel(event.slug)]
        ctx.live.channels.send(Counts(thread_id, counts, done.answers.get(thread_id, {})), channels)
        if done.removed_answers:
            ctx.live.channels.send(Status("answers", thread_id, counts), [*channels, mod_channel(event.slug)])
    ctx.live.channels.send(
        Counts(None, participants=done.people.count, event_id=event.id), [event_channel(event.slug)]
    )
    return True


@dataclass(frozen=True)
class Notice:
    """What the privacy notice says of one event: who answers for it, whom to write to, how long."""

    responsible: str
    contact: str
    retention_days: int
    status: str
    closed_at: datetime | None


async def notice(ctx: BoardContext, event: EventView) -> Notice:
    query = select(
        col(Event.responsible),
        col(Event.organisers),
        col(Event.contact),
        col(Event.retention_days),
        col(Event.status),
        col(Event.closed_at),
    ).where(col(Event.id) == event.id)
    async with ctx.db.connect() as conn:
        row = (await conn.execute(query)).one()
    return Notice(
        (row.responsible or row.organisers).strip(),
        row.contact.strip(),
        row.retention_days,
        row.status,
        row.closed_at,
    )
